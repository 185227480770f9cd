"""Multi-objective bookkeeping: dominance, non-dominated sorting, crowding, hypervolume.

All functions take points already oriented for *minimisation* (use `orient` to flip the
objectives that are maximised), so the rest of the code never thinks about directions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

Point = tuple[float, ...]


def orient(values: Sequence[float], directions: Sequence[str]) -> Point:
    return tuple(-v if d == "max" else v for v, d in zip(values, directions))


def dominates(a: Point, b: Point) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def non_dominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """Indices grouped into fronts, best front first (each front sorted)."""
    fronts: dict[int, list[int]] = {}
    for i, r in enumerate(pareto_ranks(points)):
        fronts.setdefault(r, []).append(i)
    return [fronts[r] for r in sorted(fronts)]


def pareto_ranks(points: Sequence[Point]) -> list[int]:
    """The front index of every point (0 = non-dominated; equal points share a front), in one
    C-backed sort (moocore): what `non_dominated_sort` gives, fast enough for 10^5 points."""
    if not points:
        return []
    import moocore

    return [int(r) for r in moocore.pareto_rank(np.asarray(points, dtype=float))]


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
