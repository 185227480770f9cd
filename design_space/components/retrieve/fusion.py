"""Reciprocal rank fusion (Cormack et al., 2009): merge rankings by summed 1 / (k + rank)."""
from __future__ import annotations

from typing import Hashable, Sequence


def rrf(rankings: Sequence[Sequence[Hashable]], k: float = 60.0,
        weights: Sequence[float] | None = None) -> dict[Hashable, float]:
    """Fused score per id; ids absent from a ranking get nothing from it."""
    scores: dict[Hashable, float] = {}
    for r, ranking in enumerate(rankings):
        w = 1.0 if weights is None else float(weights[r])
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return scores
