"""The archive: evaluated candidates at the final fidelity, ranked by Pareto dominance.

Its cost per new candidate does not grow with the archive: the front is kept incrementally
(a newcomer is compared with the front's distinct points only — candidates with equal objective
values are one point, however many programs tie there), instance coverage keeps only the best score per
item and who holds it (not every candidate's per-item results), and the ranks of dominated
members — needed only when a tournament draws an explorer from the whole archive — are
recomputed in one vectorised sort when the archive has grown by a tenth since the last one
(newly dominated members carry rank 1 until then).
"""
from __future__ import annotations

import bisect
from collections.abc import Sequence as SequenceABC
from typing import Sequence

from evolve.coverage import CoverageIndex
from evolve.pareto import Point, crowding, dominates, hypervolume, orient, pareto_ranks
from evolve.select import Ranked, rank_all
from evolve.store import Store

RERANK_GROWTH = 1.1


class Archive:
    def __init__(self, objectives: Sequence[tuple[str, str]]) -> None:
        self.objectives = list(objectives)  # (metric, "max" | "min")
        self._dirs = [d for _, d in self.objectives]
        self.metrics: dict[str, dict[str, float]] = {}
        self.points: dict[str, Point] = {}
        self.coverage = CoverageIndex()
        self._front: set[str] = set()
        self._front_sorted: tuple[str, ...] | None = None  # sorted(_front), kept until the front changes
        self._ties: dict[Point, list[str]] = {}  # each distinct front point -> the members on it
        self._front_ranked: list[Ranked] | None = None
        self._front_crowd: dict[str, float] = {}
        self._points_sorted: list[Point] = []
        self._rank: dict[str, int] = {}
        self._ranked_size = 0
        self._ids: list[str] = []  # insertion order, for uniform draws
        self._size: dict[str, int] = {}  # source length: among programs tied on a point, shorter is preferred

    @classmethod
    def load(cls, store: Store, objectives: Sequence[tuple[str, str]], fidelity: str) -> "Archive":
        arch = cls(objectives)
        for ev in store.evaluations(fidelity):
            if ev.status == "ok" and not ev.error:  # an error on an ok run is a health problem
                arch.add(ev.candidate_id, ev.metrics, ev.per_item)
        return arch

    def admits(self, metrics: dict[str, float]) -> bool:
        if any(m not in metrics for m, _ in self.objectives):
            return False  # cannot be placed on the front (e.g. a task that does not report this metric)
        gains = [metrics[m] for m, d in self.objectives if d == "max"]
        return not (gains and all(g <= 0 for g in gains))  # no quality at all: "free" but worth nothing

    def add(self, cid: str, metrics: dict[str, float], per_item: dict[str, float] | None = None,
            size: int = 0) -> bool:
        """Add a candidate (`size`: its source length); True when it is on the front afterwards."""
        if cid in self.metrics or not self.admits(metrics):
            return cid in self._front
        self._size[cid] = size
        point = orient([metrics[m] for m, _ in self.objectives], self._dirs)
        self.metrics[cid] = {m: metrics[m] for m, _ in self.objectives}
        self.points[cid] = point
        self._ids.append(cid)
        self.coverage.add(cid, per_item or {})
        if point in self._ties:  # a tie with a front point: joins it, the front's shape is unchanged
            self._ties[point].append(cid)
            self._front.add(cid)
            self._front_sorted = None
            self._rank[cid] = 0
            if self._front_ranked is not None:
                crowd = self._front_crowd[self._ties[point][0]]
                self._front_ranked.append(Ranked(cid, point, 0, crowd))
                self._front_crowd[cid] = crowd
            return True
        if any(dominates(p, point) for p in self._ties):
            self._rank[cid] = 1  # provisional until the next full ranking
            return False
        for p in [p for p in self._ties if dominates(point, p)]:
            for f in self._ties.pop(p):
                self._rank[f] = 1
                self._front.discard(f)
        self._ties[point] = [cid]
        self._front.add(cid)
        self._front_sorted = None
        self._rank[cid] = 0
        self._front_ranked = None
        return True

    def __len__(self) -> int:
        return len(self.metrics)

    def __contains__(self, cid: object) -> bool:
        return cid in self.metrics

    def ids(self) -> list[str]:
        return list(self._ids)

    def draw(self, rng) -> str:
        return self._ids[rng.randrange(len(self._ids))]

    def size_of(self, cid: str) -> int:
        return self._size[cid]

    def values(self, cid: str) -> tuple[float, ...]:
        return tuple(self.metrics[cid][m] for m, _ in self.objectives)

    def point(self, cid: str) -> Point:
        return self.points[cid]

    # ---- ranks ------------------------------------------------------------------------------
    def front(self) -> list[str]:
        return list(self._sorted_front())

    def _sorted_front(self) -> tuple[str, ...]:
        # Programs tied on a front point all belong to the front, so on a task whose scores take
        # few values the front grows with the archive: sort it once per change, not per child.
        if self._front_sorted is None:
            self._front_sorted = tuple(sorted(self._front))
        return self._front_sorted

    def front_except(self, skip: Sequence[str]) -> Sequence[str]:
        """The front in sorted order without the (few) ids in `skip`, as a view: `random.sample`
        draws from it exactly as from the filtered list, without building that list per child."""
        front = self._sorted_front()
        gaps = sorted({i for c in set(skip)
                       if (i := bisect.bisect_left(front, c)) < len(front) and front[i] == c})
        return _Without(front, gaps)

    def on_front(self, cid: str) -> bool:
        return cid in self._front

    def front_ranked(self) -> list[Ranked]:
        """The front with crowding distances, computed over its distinct points (ties share their
        point's); recomputed only when a point joins or leaves the front."""
        if self._front_ranked is None:
            pts = sorted(self._ties)
            self._points_sorted = pts
            crowd = crowding(pts, list(range(len(pts))))
            self._front_ranked = [Ranked(i, p, 0, crowd[k]) for k, p in enumerate(pts) for i in self._ties[p]]
            self._front_crowd = {r.id: r.crowd for r in self._front_ranked}
        return self._front_ranked

    def front_crowding(self) -> dict[str, float]:
        """Crowding distance of each front member (kept with `front_ranked`)."""
        self.front_ranked()
        return self._front_crowd

    def front_points(self) -> list[Point]:
        return list(self._ties)

    def draw_front(self, rng) -> str:
        """A front member: a distinct point uniformly, so a point many equal programs share is
        drawn no more often than any other; then the shorter of two programs tied on it
        (lexicographic parsimony pressure). Equal scores are no reason to grow: without it, edits
        that add a step and change nothing drift the front toward ever longer programs, which
        cost more to run and to read."""
        if self._front_ranked is None:
            self.front_ranked()
        point = self._points_sorted[rng.randrange(len(self._points_sorted))]
        members = self._ties[point]
        a = members[rng.randrange(len(members))]
        if len(members) == 1:
            return a
        b = members[rng.randrange(len(members))]
        return b if self._size[b] < self._size[a] else a

    def rank_of(self, cid: str) -> int:
        if len(self) > self._ranked_size * RERANK_GROWTH:
            ids = list(self._ids)
            for i, r in zip(ids, pareto_ranks([self.points[i] for i in ids])):
                self._rank[i] = r
            self._ranked_size = len(ids)
        return self._rank[cid]

    def ranked(self) -> list[Ranked]:
        """Every member with its exact rank and crowding (for people: the front table, reports)."""
        ids = sorted(self.metrics)
        return rank_all(ids, [self.points[i] for i in ids])

    def hypervolume(self, reference: Point, ids: Sequence[str] | None = None) -> float:
        """Volume dominated by `ids` (default: the front) up to the campaign's fixed reference
        (evolve/reference.py); an empty archive has none."""
        pts = list(self._ties) if ids is None else list({self.points[c] for c in ids})
        return hypervolume(pts, reference)


class _Without(SequenceABC):
    """`items` minus the positions in `gaps` (sorted), indexed in O(len(gaps))."""

    def __init__(self, items: tuple[str, ...], gaps: list[int]) -> None:
        self.items, self.gaps = items, gaps

    def __len__(self) -> int:
        return len(self.items) - len(self.gaps)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        for g in self.gaps:
            if i >= g:
                i += 1
        return self.items[i]
