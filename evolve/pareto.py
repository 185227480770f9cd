"""Multi-objective bookkeeping: dominance, non-dominated sorting, crowding, hypervolume.

All functions take points already oriented for *minimisation* (use `orient` to flip the
objectives that are maximised), so the rest of the code never thinks about directions.
"""
from __future__ import annotations

from typing import Sequence

Point = tuple[float, ...]


def orient(values: Sequence[float], directions: Sequence[str]) -> Point:
    return tuple(-v if d == "max" else v for v, d in zip(values, directions))


def dominates(a: Point, b: Point) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def non_dominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """Deb's fast non-dominated sort: indices grouped into fronts, best front first."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    count = [0] * n
    fronts: list[list[int]] = [[]]
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                count[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                count[i] += 1
    fronts[0] = [i for i in range(n) if count[i] == 0]
    while fronts[-1]:
        nxt = []
        for i in fronts[-1]:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        fronts.append(sorted(nxt))
    return [f for f in fronts if f]


def crowding(points: Sequence[Point], front: Sequence[int]) -> dict[int, float]:
    """NSGA-II crowding distance of each member of one front (boundary points: infinity)."""
    dist = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: float("inf") for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][m])
        lo, hi = points[ordered[0]][m], points[ordered[-1]][m]
        dist[ordered[0]] = dist[ordered[-1]] = float("inf")
        if hi == lo:
            continue
        for k in range(1, len(ordered) - 1):
            dist[ordered[k]] += (points[ordered[k + 1]][m] - points[ordered[k - 1]][m]) / (hi - lo)
    return dist


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Exact hypervolume dominated by `points` and bounded by `reference` (minimisation).

    Slicing over the first objective (HSO); fine for the few dozen points of a front."""
    pts = [p for p in points if all(x < r for x, r in zip(p, reference))]
    if not pts:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in pts)
    pts = sorted(set(pts))
    volume = 0.0
    for k, p in enumerate(pts):
        upper = pts[k + 1][0] if k + 1 < len(pts) else reference[0]
        width = upper - p[0]
        if width <= 0:
            continue
        slab = [q[1:] for q in pts[: k + 1]]
        volume += width * hypervolume(slab, reference[1:])
    return volume
