"""Hits — (turn number, score) pairs, best first — normalised and blended by the pipeline steps.

Scores from different indexes live on different scales (BM25 is unbounded, cosine is in
[-1, 1]), so every step that combines evidence first divides by the best score of its list.
"""
from __future__ import annotations

from typing import Mapping, Sequence

Hits = list[tuple[int, float]]


def normalised(hits: Sequence[tuple[int, float]]) -> dict[int, float]:
    if not hits:
        return {}
    top = max(s for _d, s in hits)
    low = min(s for _d, s in hits)
    if top <= 0:  # cosine lists can be all negative: shift to [0, 1]
        span = max(top - low, 1e-12)
        return {d: (s - low) / span for d, s in hits}
    return {d: max(0.0, s) / top for d, s in hits}


def blend(hits: Sequence[tuple[int, float]], pool: Sequence[tuple[int, float]], bonus: Mapping[int, float],
          weight: float, keep: int) -> Hits:
    """Rank hits ∪ pool by normalised score + weight * bonus; keep as many as were given (`keep`)."""
    base = normalised(pool)
    for d, s in normalised(hits).items():
        base[d] = max(base.get(d, 0.0), s)
    scored = {d: s + float(weight) * bonus.get(d, 0.0) for d, s in base.items()}
    order = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
    return order[: max(1, int(keep))]


def alive(hits: Sequence[tuple[int, float]], live: Sequence[bool]) -> Hits:
    return [(d, s) for d, s in hits if 0 <= d < len(live) and live[d]]
