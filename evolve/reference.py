"""One hypervolume reference point per campaign, fixed from the task and the objectives.

Hypervolumes only compare when they are measured against the same reference. The point is
therefore never taken from whatever candidate happened to finish first: it is decided when
the campaign is created, from what the config and the task declare, stored in the campaign
database (meta key `hv_reference`), and read back by `run`, `resume`, `status`, `front`,
`report` and `compare`.

Per objective, in the metric's own units:
- an explicit `reference` in the objective's config wins;
- maximised metrics (recall, accuracy, F1, ...): 0 — a program that finds nothing adds nothing;
- `tokens`: the task's token budget per query (a program cannot return more);
- rates (`*_rate`): 1;
- `memory_kb` / `bytes`: the sandbox's memory limit;
- latencies (`latency_ms`, `*_ms_p50`, `step_ms`, ...): 1000 ms;
- any other minimised metric needs an explicit `reference` (a config error says so).

A program worse than the reference on some objective simply adds no volume.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from evolve.config import CampaignConfig, ConfigError
from evolve.pareto import Point, orient
from evolve.store import Store
from sandboxes.tasks import TaskError, get_task

META_KEY = "hv_reference"
BUDGET_KEY = "token_budget"
LATENCY_BOUND_MS = 1000.0
_LATENCY = re.compile(r"(^latency|_ms$|_ms_p\d+$)")


@dataclass(frozen=True)
class TaskProbe:
    """What a task reports, learnt by scoring an empty recall on its smoke stream (trusted side, no program)."""

    metrics: frozenset[str]
    budget_tokens: int


def probe_task(config: CampaignConfig) -> TaskProbe:
    """Score a run that recalled nothing for every query of the smoke stream: the metric names a
    real evaluation reports (answer metrics join when an answerer is configured)."""
    from design_space.contract import Query
    from sandboxes.scoring import ANSWER_KEYS, score_transcript

    task = get_task(config.task.name)
    try:
        stream = task.build(dict(config.task.params), "smoke", config.seed)
    except TaskError as exc:
        raise ConfigError(f"task: {exc}") from None
    queries = [s for ep in stream.episodes for s in ep.steps if isinstance(s, Query)]
    transcript: dict[str, Any] = {
        "status": "ok",
        "queries": {q.id: {"items": [], "tokens": 0, "over_budget": False, "latency_ms": 0.0} for q in queries},
        "ops": {"ingest": [0.0], "retrieve": [0.0], "manage": [0.0]},
        "footprint": {"records": 0, "bytes": 0},
        "llm": {"calls": 0, "tokens": 0},
        "instructions": "",
    }
    own = getattr(task, "score", None)
    scored = own(stream, transcript) if own is not None else score_transcript(stream, transcript)
    names = set(scored["metrics"])
    if config.task.answer:
        names.update(k for k in ANSWER_KEYS if k != "judge" or config.task.answer.get("judge_model"))
    if not config.task.embedder.startswith("hashing"):
        names.add("embed_misses")
    budget = max((q.budget_tokens for q in queries), default=0)
    return TaskProbe(frozenset(names), int(budget))


# metrics that describe the measurement, not the program: a program that recalls nothing has the
# smallest standard error (0), so searching on one would reward it
NOT_OBJECTIVES = {"recall_se": "the standard error of recall over the questions"}


def check_objectives(config: CampaignConfig, probe: TaskProbe) -> None:
    """An objective the task never reports could never place a candidate on the front; one that
    describes the measurement (NOT_OBJECTIVES) would rank programs by their questions' spread."""
    for k, o in enumerate(config.objectives):
        if o.metric in NOT_OBJECTIVES:
            raise ConfigError(f"objectives.{k}.metric: {o.metric!r} is {NOT_OBJECTIVES[o.metric]}, a property of "
                              f"the measurement, not of the program; it cannot be an objective")
        if o.metric not in probe.metrics:
            raise ConfigError(f"objectives.{k}.metric: task {config.task.name!r} does not report {o.metric!r} "
                              f"(it reports: {', '.join(sorted(probe.metrics))})")


def reference_values(config: CampaignConfig, probe: TaskProbe) -> list[float]:
    """The reference in metric units, one value per objective (see the module docstring)."""
    out = []
    for k, o in enumerate(config.objectives):
        if o.reference is not None:
            out.append(float(o.reference))
        elif o.direction == "max":
            out.append(0.0)
        elif o.metric == "tokens" and probe.budget_tokens > 0:
            out.append(float(probe.budget_tokens))
        elif o.metric.endswith("_rate"):
            out.append(1.0)
        elif o.metric == "memory_kb":
            out.append(float(config.sandbox.limits.memory_mb) * 1024.0)
        elif o.metric == "bytes":
            out.append(float(config.sandbox.limits.memory_mb) * 2.0**20)
        elif _LATENCY.search(o.metric):
            out.append(LATENCY_BOUND_MS)
        else:
            raise ConfigError(f"objectives.{k}: no natural bound for minimised {o.metric!r}; give one as "
                              f"'reference' (the worst value that still counts, used for hypervolume)")
    return out


def encode(config: CampaignConfig, values: list[float]) -> str:
    return json.dumps({"objectives": [[o.metric, o.direction] for o in config.objectives], "values": values})


def fix_reference(store: Store, config: CampaignConfig, values: list[float]) -> None:
    store.set_meta(META_KEY, encode(config, values))


def stored_values(store: Store, config: CampaignConfig) -> list[float] | None:
    """The reference a campaign fixed, or None (a database from before references were fixed)."""
    raw = store.meta(META_KEY)
    if not raw or not raw.startswith("{"):
        return None  # absent, or the old comma list taken from the first finished candidate
    data = json.loads(raw)
    if data.get("objectives") != [[o.metric, o.direction] for o in config.objectives]:
        return None
    return [float(v) for v in data["values"]]


def campaign_reference(store: Store, config: CampaignConfig) -> Point:
    """The campaign's reference, oriented for minimisation. Older databases get one derived from
    their config the same way (read-only: nothing is written)."""
    values = stored_values(store, config)
    if values is None:
        values = reference_values(config, probe_task(config))
    return orient(values, [o.direction for o in config.objectives])


def fix_budget(store: Store, budget: int) -> None:
    """Keep the task's token budget per query (what `trim` and `match` size their token shares by)."""
    store.set_meta(BUDGET_KEY, str(int(budget)))


def stored_budget(store: Store, config: CampaignConfig) -> int:
    """The token budget the campaign fixed; a database from before it was kept probes its task."""
    raw = store.meta(BUDGET_KEY)
    return int(raw) if raw else probe_task(config).budget_tokens
