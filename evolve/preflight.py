"""A pre-flight estimate printed before a campaign starts: how long, how many LLM calls, how many dollars.

Time: one real smoke evaluation of the first seed, scaled by the size of each cascade stage
(events + queries of the stream), times the candidates, over the evaluations in flight.
The smoke evaluation runs on the configured backend with the configured embedder (its cache
is built first, as the campaign would). LLM: the share of children made by LLM operators,
about 1.5 calls each (fix attempts), with prompts measured by building the operators' real
messages around the seed (system prompt with the component catalogue, the parent, two
inspirations of its size) plus an allowance for failures and lineage, priced from the
config or litellm's table.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from evolve.config import LLM_OPERATORS, REAL_TEXT_TASKS, CampaignConfig
from sandboxes.backends import get_sandbox
from sandboxes.job import Job, Limits
from sandboxes.tasks import get_task

CALLS_PER_CHILD = 1.5
FAILURE_CHARS = 2400  # a sample of failures (questions, gold evidence, returns) and the lineage notes
REPLY_TOKENS = 700


@dataclass(frozen=True)
class Estimate:
    seconds_per_candidate: float
    wall_seconds: float
    llm_calls: float
    llm_dollars: float | None  # None: some model has no known price

    def render(self, config: CampaignConfig) -> str:
        b = config.budget
        text = (f"pre-flight: {b.evaluations} candidates × ≤{len(config.task.cascade)} stages, "
                f"~{self.seconds_per_candidate:.2g} s each → ~{_duration(self.wall_seconds)} with "
                f"{config.parallel} in flight")
        if b.wall_seconds:
            text += f" (wall budget {_duration(b.wall_seconds)})"
        text += f"; embedder {config.task.embedder}"
        if config.task.embedder.startswith("hashing") and config.task.name in REAL_TEXT_TASKS:
            text += " (dense components will look weak: pip install 'memarch[embed]' for the static one)"
        if self.llm_calls:
            cost = f"~${self.llm_dollars:.2f}" if self.llm_dollars is not None else "cost unknown (no price)"
            text += f"; LLM ~{self.llm_calls:.0f} calls, {cost}"
            if b.llm_dollars is not None:
                text += f" (cap ${b.llm_dollars:g})"
        return text


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _size(config: CampaignConfig, stage: str) -> int:
    stream = get_task(config.task.name).build(config.task.params, stage, config.seed)
    return sum(len(ep.steps) for ep in stream.episodes)


def estimate(config: CampaignConfig, seed_code: str) -> Estimate:
    stages = config.task.cascade
    job = Job(program=seed_code, task=config.task.name, task_params=dict(config.task.params), fidelity=stages[0],
              limits=Limits(**config.sandbox.limits.model_dump()), seed=config.seed)
    from evolve.campaign_setup import prepare_embeddings, sandbox_options

    embed_dir = prepare_embeddings(config, lambda _msg: None)  # the campaign reuses this cache
    job = Job(**{**job.__dict__, "embedder": config.task.embedder, "embed_cache": embed_dir})
    box = get_sandbox(config.sandbox.backend, **sandbox_options(config))
    if config.sandbox.backend != "process":
        box.run(job)  # a warm backend (fork server, image) starts once per campaign, not per candidate
    t0 = time.perf_counter()
    box.run(job)
    smoke = time.perf_counter() - t0
    base = max(1, _size(config, stages[0]))
    per_candidate = sum(smoke * max(1.0, _size(config, s) / base) for s in stages)
    wall = per_candidate * config.budget.evaluations / max(1, config.parallel)
    total_w = sum(o.weight for o in config.operators)
    llm_share = sum(o.weight for o in config.operators if o.name in LLM_OPERATORS) / total_w
    calls = llm_share * max(0, config.budget.evaluations - len(config.seeds)) * CALLS_PER_CHILD
    dollars: float | None = 0.0
    if calls and config.llm is not None:
        prompt = prompt_tokens(config, seed_code)
        per_call = []
        for m in config.llm.models:
            price = _price(m.model, m.price_in, m.price_out, prompt)
            if price is None:
                dollars = None
                break
            per_call.append((price, m.weight))
        if dollars is not None and per_call:
            weight = sum(w for _p, w in per_call) or 1.0
            dollars = calls * sum(p * w for p, w in per_call) / weight
    return Estimate(per_candidate, wall, calls, dollars if calls else 0.0)


def prompt_tokens(config: CampaignConfig, seed_code: str) -> int:
    """Tokens of a first LLM prompt around a seed-sized parent, weighted over the LLM operators."""
    import random

    from evolve.operators import prompts
    from evolve.operators.base import CandidateView, OperatorContext

    assert config.llm is not None
    view = CandidateView(id="c0001", code=seed_code)
    ctx = OperatorContext(parents=[view, CandidateView(id="c0002", code=seed_code)], inspirations=[view, view],
                          rng=random.Random(0), objectives=[o.metric for o in config.objectives],
                          task=config.task.name)
    total, weights = 0.0, 0.0
    for op in config.operators:
        if op.name not in LLM_OPERATORS:
            continue
        components = bool(op.params.get("components", True))
        if op.name == "crossover":
            messages = prompts.crossover_messages(ctx, full_rewrite=bool(op.params.get("full_rewrite", True)),
                                                  components=components)
        else:
            messages = prompts.edit_messages(ctx, full_rewrite=bool(op.params.get("full_rewrite",
                                                                                  config.llm.full_rewrite)),
                                             components=components)
        chars = sum(len(m["content"]) for m in messages) + FAILURE_CHARS
        total += op.weight * chars / 4
        weights += op.weight
    return int(total / weights) if weights else 0


def _price(model: str, price_in: float | None, price_out: float | None, prompt: int) -> float | None:
    if price_in is not None and price_out is not None:
        return (prompt * price_in + REPLY_TOKENS * price_out) / 1e6
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm

        p, c = litellm.cost_per_token(model=model, prompt_tokens=prompt, completion_tokens=REPLY_TOKENS)
        return float(p + c)
    except Exception:  # noqa: BLE001 - litellm raises for models it has no price for
        return None
