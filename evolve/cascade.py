"""The evaluation cascade: cheap stages first; a child clearly worse early never pays for more.

A gate looks at a candidate's result at one stage (and its parents' results at the same
stage) and answers whether it may go on to the next stage.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from evolve.pareto import dominates, orient
from sandboxes.job import Result


class Gate(Protocol):
    def passes(self, result: Result, parent_results: Sequence[Result], objectives: Sequence[tuple[str, str]]) -> str:
        """Empty string to go on; otherwise the reason to stop."""
        ...


class HealthGate:
    """Smoke stage: the program must run and actually store and recall something."""

    def passes(self, result, parent_results, objectives) -> str:
        if result.status != "ok":
            return f"status {result.status}"
        return result.error  # health problem, if any


class NotDominatedGate(HealthGate):
    """Subset stage: stop a child that a parent dominates by a clear margin on every objective."""

    def __init__(self, margin: float = 0.02) -> None:
        self.margin = margin

    def passes(self, result, parent_results, objectives) -> str:
        problem = super().passes(result, parent_results, objectives)
        if problem:
            return problem
        names = [m for m, _ in objectives]
        dirs = [d for _, d in objectives]
        child = orient([result.metrics.get(m, 0.0) for m in names], dirs)
        for parent in parent_results:
            if parent.status != "ok":
                continue
            p = orient([parent.metrics.get(m, 0.0) for m in names], dirs)
            # the parent must be better than the child by `margin` (relative) on some objective
            clear = any(pv < cv - self.margin * max(abs(cv), abs(pv), 1e-9) for pv, cv in zip(p, child))
            if dominates(p, child) and clear:
                return "dominated by its parent on the subset"
        return ""


GATES: dict[str, Gate] = {"smoke": HealthGate(), "subset": NotDominatedGate()}
