"""Top-k by score, with stable tie-breaking (earlier index first)."""
from __future__ import annotations

from typing import Hashable, Mapping

import numpy as np


def top_k(scores: np.ndarray | Mapping[Hashable, float], k: int, min_score: float = -np.inf) -> list[tuple]:
    """(index or key, score) pairs, best first, at most `k`, each with score > `min_score`."""
    if isinstance(scores, Mapping):
        items = sorted(scores.items(), key=lambda kv: -kv[1])
        return [(key, float(s)) for key, s in items if s > min_score][: max(0, int(k))]
    s = np.asarray(scores, dtype=np.float64)
    if not len(s) or k <= 0:
        return []
    k = min(int(k), len(s))
    idx = np.argpartition(-s, k - 1)[:k]
    idx = idx[np.lexsort((idx, -s[idx]))]
    return [(int(i), float(s[i])) for i in idx if s[i] > min_score]


def min_max(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (Generative Agents normalises each score this way before weighting)."""
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return v
    lo, hi = float(v.min()), float(v.max())
    return np.zeros_like(v) if hi - lo < 1e-12 else (v - lo) / (hi - lo)
