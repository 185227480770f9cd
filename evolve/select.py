"""Parent selection: Pareto-aware sampling over the archive of evaluated candidates."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, Sequence

from evolve.pareto import Point, crowding, non_dominated_sort


@dataclass(frozen=True)
class Ranked:
    id: str
    point: Point
    rank: int  # 0 = non-dominated
    crowd: float


def rank_all(ids: Sequence[str], points: Sequence[Point]) -> list[Ranked]:
    out: list[Ranked] = []
    for r, front in enumerate(non_dominated_sort(points)):
        crowd = crowding(points, front)
        out.extend(Ranked(ids[i], points[i], r, crowd[i]) for i in front)
    return out


class ParentSelector(Protocol):
    def pick(self, ranked: list[Ranked], k: int, rng: random.Random) -> list[str]: ...


class ParetoTournament:
    """Binary tournaments on (rank, -crowding): non-dominated and isolated candidates win.

    With probability `explore` a tournament entrant comes from anywhere in the archive, so
    dominated but different programs still get children now and then."""

    def __init__(self, explore: float = 0.1) -> None:
        self.explore = explore

    def pick(self, ranked: list[Ranked], k: int, rng: random.Random) -> list[str]:
        if not ranked:
            return []
        front = [r for r in ranked if r.rank == 0]
        chosen: list[str] = []
        for _ in range(k):
            pool = ranked if rng.random() < self.explore else front
            a, b = rng.choice(pool), rng.choice(pool)
            win = min((a, b), key=lambda r: (r.rank, -r.crowd, r.id))
            chosen.append(win.id)
        return chosen


class InstanceCoverage:
    """GEPA-style: sample among candidates that are best on at least one task instance,
    weighted by how many instances they win; this keeps specialists a scalar mean would drop."""

    def pick_from(self, per_item: dict[str, dict[str, float]], k: int, rng: random.Random) -> list[str]:
        if not per_item:
            return []
        items: set[str] = set().union(*(p.keys() for p in per_item.values()))
        wins: dict[str, int] = {}
        for item in items:
            scores = {cid: p[item] for cid, p in per_item.items() if item in p}
            best = max(scores.values())
            if best <= 0:
                continue
            for cid, s in scores.items():
                if s == best:
                    wins[cid] = wins.get(cid, 0) + 1
        if not wins:
            return []
        ids = sorted(wins)
        return rng.choices(ids, weights=[wins[i] for i in ids], k=k)
