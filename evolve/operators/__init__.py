"""Operators: each makes one child program from parents. `build_operators` reads the config."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from evolve.config import ConfigError, OperatorConfig
from evolve.operators.base import Operator


@dataclass
class OperatorDeps:
    """What operators may need beyond their own params (an LLM client, the bandit, the seed)."""

    seed: int = 0
    objectives: list[tuple[str, str]] | None = None
    client: Any = None
    bandit: Any = None
    max_fix_attempts: int = 2
    full_rewrite: bool = False
    seed_programs: dict[str, str] | None = None  # name -> code of the campaign's seeds
    labelled: bool = False  # the task is an experience stream whose events carry labels
    token_budget: float = 0.0  # the task's token budget per query (0: the task has none)
    evaluations: int = 0  # the campaign's evaluation budget (candidates, seeds included)


# An experience stream has no speakers and no calendar (an event's time is its position in the
# stream): knobs that annotate turns with either only write fake dates into texts, which then miss
# the embedding cache (built for the plain texts) and are embedded inside the sandbox, slowly.
ANNOTATION_KNOBS = frozenset({"SHOW_SPEAKER", "SHOW_DATES"})


def _frozen(params: dict[str, Any], deps: OperatorDeps) -> dict[str, Any]:
    return {**params, "frozen": ANNOTATION_KNOBS} if deps.labelled and "frozen" not in params else params


def _unlabelled(params: dict[str, Any], deps: OperatorDeps) -> dict[str, Any]:
    """Label components only where labels exist (elsewhere they return their hits unchanged)."""
    from design_space.catalogue import COMPONENTS

    if not deps.labelled and params.get("components") is None:
        return {**params, "components": [c.name for c in COMPONENTS.values() if not c.labelled]}
    return params


def _structural(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.structural import StructuralEdit

    return StructuralEdit(**_frozen(_unlabelled(params, deps), deps))


def _tune(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.tune import OptunaTune

    return OptunaTune(seed=deps.seed, objectives=deps.objectives, **_frozen(params, deps))


def _llm_edit(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.llm_edit import LLMEdit

    opts = {"full_rewrite": deps.full_rewrite, "max_fix_attempts": deps.max_fix_attempts, **params}
    return LLMEdit(deps.client, bandit=deps.bandit, **opts)


def _crossover(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.crossover import Crossover

    opts = {"max_fix_attempts": deps.max_fix_attempts, **params}
    return Crossover(deps.client, bandit=deps.bandit, **opts)


def _graft(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.component_crossover import ComponentCrossover

    return ComponentCrossover(**params)


def _compose(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.compose import Compose

    return Compose(seed=deps.seed, objectives=deps.objectives, labelled=deps.labelled,
                   evaluations=deps.evaluations, **params)


def _trim(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.trim import Trim

    return Trim(objectives=deps.objectives, token_budget=deps.token_budget, **params)


def _match(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.match import Match

    return Match(objectives=deps.objectives, token_budget=deps.token_budget, **params)


def _random(params: dict[str, Any], deps: OperatorDeps) -> Operator:
    from evolve.operators.random_sample import RandomSample

    return RandomSample(deps.seed_programs or {}, **_unlabelled(params, deps))


FACTORIES: dict[str, Callable[[dict[str, Any], OperatorDeps], Operator]] = {
    "structural": _structural, "tune": _tune, "llm_edit": _llm_edit, "crossover": _crossover,
    "random": _random, "graft": _graft, "compose": _compose, "trim": _trim,
    "match": _match}


def build_operators(configs: list[OperatorConfig], deps: OperatorDeps | None = None) -> list[tuple[Operator, float]]:
    """Instantiate the configured operators with their weights; unknown names fail loudly at start."""
    deps = deps or OperatorDeps()
    out = []
    for oc in configs:
        if oc.name not in FACTORIES:
            raise ConfigError(f"unknown operator '{oc.name}' in operators (known: {', '.join(sorted(FACTORIES))})")
        if oc.name in ("llm_edit", "crossover") and deps.client is None:
            raise ConfigError(f"operator '{oc.name}' needs an 'llm' section with at least one model")
        try:
            out.append((FACTORIES[oc.name](dict(oc.params), deps), oc.weight))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"operators.{oc.name}.params: {exc}") from None
    return out
