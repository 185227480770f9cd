"""The archive: evaluated candidates at the final fidelity, ranked by Pareto dominance."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from evolve.pareto import Point, hypervolume, orient
from evolve.select import Ranked, rank_all
from evolve.store import Store


@dataclass
class Archive:
    objectives: list[tuple[str, str]]  # (metric, "max" | "min")
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    per_item: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, objectives: Sequence[tuple[str, str]], fidelity: str) -> "Archive":
        arch = cls(list(objectives))
        for ev in store.evaluations(fidelity):
            if ev.status == "ok" and not ev.error:  # an error on an ok run is a health problem
                arch.add(ev.candidate_id, ev.metrics, ev.per_item)
        return arch

    def add(self, cid: str, metrics: dict[str, float], per_item: dict[str, float] | None = None) -> None:
        missing = [m for m, _ in self.objectives if m not in metrics]
        if missing:
            return  # cannot be placed on the front (e.g. a task that does not report this metric)
        gains = [metrics[m] for m, d in self.objectives if d == "max"]
        if gains and all(g <= 0 for g in gains):
            return  # no quality at all: "free" on every cost objective, but worth nothing
        self.metrics[cid] = metrics
        self.per_item[cid] = dict(per_item or {})

    def subset(self, ids: set[str]) -> "Archive":
        """The same archive restricted to `ids` (an island's view)."""
        return Archive(self.objectives, {c: m for c, m in self.metrics.items() if c in ids},
                       {c: p for c, p in self.per_item.items() if c in ids})

    def __len__(self) -> int:
        return len(self.metrics)

    def values(self, cid: str) -> tuple[float, ...]:
        return tuple(self.metrics[cid][m] for m, _ in self.objectives)

    def point(self, cid: str) -> Point:
        return orient(self.values(cid), [d for _, d in self.objectives])

    def ranked(self) -> list[Ranked]:
        ids = sorted(self.metrics)
        return rank_all(ids, [self.point(i) for i in ids])

    def front(self) -> list[str]:
        return sorted(r.id for r in self.ranked() if r.rank == 0)

    def hypervolume(self, reference: Point, ids: Sequence[str] | None = None) -> float:
        """Volume dominated by `ids` (default: every member) up to the campaign's fixed reference
        (evolve/reference.py); an empty archive has none."""
        return hypervolume([self.point(c) for c in (ids if ids is not None else self.metrics)], reference)
