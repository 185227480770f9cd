"""Parent selection: Pareto-aware sampling over the archive of evaluated candidates."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence

from evolve.pareto import Point, crowding, non_dominated_sort

if TYPE_CHECKING:
    from evolve.archive import Archive


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
    def pick(self, archive: "Archive", k: int, rng: random.Random) -> list[str]: ...


class ParetoTournament:
    """Binary tournaments on (rank, -crowding): non-dominated and isolated candidates win.

    Entrants come from the front — a distinct point uniformly, then one of the programs tied on it
    (its crowding is kept by the archive); with probability `explore`
    both come from anywhere in the archive instead, so dominated but different programs still get
    children now and then. Either way a pick costs the same whatever the archive's size."""

    def __init__(self, explore: float = 0.1) -> None:
        self.explore = explore

    def pick(self, archive: "Archive", k: int, rng: random.Random) -> list[str]:
        if not len(archive):
            return []
        crowd = archive.front_crowding()
        chosen: list[str] = []
        for _ in range(k):
            if rng.random() < self.explore:
                a, b = archive.draw(rng), archive.draw(rng)
            else:
                a, b = archive.draw_front(rng), archive.draw_front(rng)
            chosen.append(min((a, b), key=lambda c: (archive.rank_of(c), -crowd.get(c, 0.0), c)))
        return chosen
