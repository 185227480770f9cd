"""The Operator seam: given parents (and context), propose one child program."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CandidateView:
    """What an operator may read about an evaluated candidate."""

    id: str
    code: str
    metrics: dict[str, float] = field(default_factory=dict)
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    operator: str = ""
    note: str = ""


@dataclass
class OperatorContext:
    parents: list[CandidateView]
    inspirations: list[CandidateView] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)  # change notes from the root to the first parent
    rng: random.Random = field(default_factory=random.Random)
    objectives: list[str] = field(default_factory=list)
    task: str = ""
    # the whole front without the parents: filled only for operators with `reads_front = True`
    front: list[CandidateView] = field(default_factory=list)
    # the campaign's seeds that reached the archive: filled only for operators with `reads_front = True`
    references: list[CandidateView] = field(default_factory=list)


@dataclass(frozen=True)
class Proposal:
    code: str
    note: str  # one line: what changed and why
    operator: str
    parents: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)


class OperatorError(RuntimeError):
    """The operator could not produce a valid child this time (the campaign goes on)."""


class Operator(Protocol):
    name: str
    arity: int  # parents it needs

    def propose(self, ctx: OperatorContext) -> Proposal: ...
