"""Getting a campaign ready: seeds, the LLM client, the embedding cache, the sandbox backend.

Everything here runs once, on the driver, before (or at the start of) a campaign, and turns
what a user can get wrong into a ConfigError that names the cause.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from design_space.seeds import seed_names, seed_source
from evolve.config import CampaignConfig, ConfigError
from evolve.store import Store
from sandboxes.tasks import get_task


def load_seed(ref: str, base: Path) -> tuple[str, str]:
    """A seed is a name from design_space/seeds or a path to a program file (relative to the config)."""
    if ref in seed_names():
        return ref, seed_source(ref)
    path = Path(ref) if Path(ref).is_absolute() else base / ref
    if path.suffix == ".py" and path.is_file():
        return path.stem, path.read_text(encoding="utf-8")
    raise ConfigError(f"seeds: {ref!r} is neither a seed name ({', '.join(seed_names())}) nor a .py file")


def absolute_cassette(config: CampaignConfig, base: Path) -> CampaignConfig:
    if config.llm is None or not config.llm.cassette:
        return config
    path = Path(config.llm.cassette)
    path = path if path.is_absolute() else (base / path).resolve()
    return config.model_copy(update={"llm": config.llm.model_copy(update={"cassette": str(path)})})


def build_llm(config: CampaignConfig, store: Store | None) -> tuple[Any, Any]:
    """The LLM client (recording every call in the store) and the model bandit, or (None, None).

    Without a store (a campaign being created checks its config before it writes anything) the
    calls are not recorded; with one, a bandit saved by an earlier session is restored."""
    if config.llm is None:
        return None, None
    from evolve.llm.bandit import ModelBandit
    from evolve.llm.cassette import Cassette
    from evolve.llm.client import LLMClient, ModelSpec

    llm = config.llm
    specs = [ModelSpec(**m.model_dump()) for m in llm.models]
    cassette = None
    if llm.cassette_mode != "off":
        if not llm.cassette:
            raise ConfigError("llm.cassette: a cassette path is needed when cassette_mode is not 'off'")
        try:
            cassette = Cassette(llm.cassette, llm.cassette_mode)
        except ValueError as exc:
            raise ConfigError(f"llm.cassette: {exc}") from None
    try:
        client = LLMClient(specs, cassette=cassette, on_call=store.add_llm_call if store is not None else None,
                           max_usd=config.budget.llm_dollars, max_tokens=config.budget.llm_tokens)
    except ValueError as exc:
        raise ConfigError(f"llm: {exc}") from None
    eval_usd = evaluation_usd(config)
    if store is None:
        return client, (ModelBandit(config.seed, eval_cost=eval_usd) if llm.bandit else None)
    totals = store.llm_totals()  # once per session; the client keeps running totals from here
    client.spent_usd = totals["cost_usd"]
    client.tokens = int(totals["prompt_tokens"] + totals["completion_tokens"])
    client.unpriced_calls = int(totals.get("unpriced", 0))
    if cassette is not None and cassette.mode == "replay":
        # a resumed replay must not serve again the answers earlier sessions consumed
        for row in store.conn.execute("SELECT model, prompt_hash FROM llm_calls ORDER BY id"):
            cassette.mark_asked(row["model"], row["prompt_hash"])
    bandit = None
    if llm.bandit:
        bandit = ModelBandit(config.seed, weights={s.key: s.weight for s in specs},
                             prior_costs=client.cost_estimates(), eval_cost=eval_usd)
        saved = store.meta(BANDIT_KEY)
        if saved:  # counts, costs and the generator's state: choices go on as if never interrupted
            restored = ModelBandit.from_json(json.loads(saved))
            bandit.arms, bandit.prior_cost = restored.arms, restored.prior_cost
            bandit.rng.setstate(restored.rng.getstate())
    return client, bandit


def evaluation_usd(config: CampaignConfig) -> float:
    """Dollars one evaluation is worth to the bandit: the config's, else the campaign's own exchange rate
    (its LLM dollars over its evaluations), else EVAL_COST."""
    from evolve.llm.bandit import EVAL_COST

    assert config.llm is not None
    if config.llm.evaluation_usd is not None:
        return config.llm.evaluation_usd
    if config.budget.llm_dollars:
        return config.budget.llm_dollars / config.budget.evaluations
    return EVAL_COST


BANDIT_KEY = "bandit"  # store meta: the model bandit's state as JSON (ModelBandit.to_json)


def save_bandit(store: Store, bandit: Any) -> None:
    if bandit is not None:
        store.set_meta(BANDIT_KEY, json.dumps(bandit.to_json()))


def prepare_embeddings(config: CampaignConfig, on_log: Callable[[str], None]) -> str:
    """Embed every event and query text of every stage once, on the trusted side (model embedders only).

    Returns the cache directory sandboxes read ("" for the hashing embedder, which needs none)."""
    task = config.task
    if task.embedder.startswith("hashing"):
        return ""
    from sandboxes.embed_cache import build, stream_variants

    root = Path(task.embed_cache).expanduser() if task.embed_cache else default_cache_dir() / "embeddings"
    variants = [(dict(task.params), s) for s in task.cascade]
    if task.holdout is not None:
        variants.append(({**task.params, **task.holdout}, task.holdout_fidelity or task.cascade[-1]))
    for params, stage in variants:
        stream = get_task(task.name).build(params, stage, config.seed)
        stats = build(stream.episodes, task.embedder, root, variants=stream_variants(stream))
        if stats["computed"]:
            on_log(f"embedded {stats['computed']:.0f} texts with {task.embedder} "
                   f"in {stats['seconds']:.1f} s (cache: {root})")
    return str(root)


def default_cache_dir() -> Path:
    return Path(os.environ.get("MEMARCH_CACHE") or Path.home() / ".cache" / "memarch")


def sandbox_options(config: CampaignConfig) -> dict[str, Any]:
    options = dict(config.sandbox.options)
    if config.sandbox.backend == "docker":
        options.setdefault("campaign", config.name)  # labels its containers for cleanup
    return options


def check_sandbox(config: CampaignConfig) -> None:
    """Build the backend once on this node so a bad backend, option or missing image fails now."""
    from sandboxes.backends import BACKENDS, get_sandbox

    backend = config.sandbox.backend
    if backend not in BACKENDS:
        raise ConfigError(f"sandbox.backend: unknown backend {backend!r} (known: {', '.join(sorted(BACKENDS))})")
    try:
        get_sandbox(backend, **sandbox_options(config))
    except TypeError as exc:
        raise ConfigError(f"sandbox.options: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. no Docker engine or no image: say which
        raise ConfigError(f"sandbox: the {backend} backend cannot start here: {exc}") from None
