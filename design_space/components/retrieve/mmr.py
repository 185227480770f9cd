"""Maximal marginal relevance (Carbonell & Goldstein, 1998): relevant but mutually diverse picks."""
from __future__ import annotations

import numpy as np


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float = 0.7) -> list[int]:
    """Indices chosen greedily by lam * relevance - (1 - lam) * max similarity to those chosen."""
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(rel)
    if n == 0 or k <= 0:
        return []
    vecs = np.asarray(vectors, dtype=np.float64)
    chosen: list[int] = []
    max_sim = np.full(n, -np.inf)
    available = np.ones(n, dtype=bool)
    for _ in range(min(int(k), n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = np.where(available, lam * rel - (1 - lam) * penalty, -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, vecs @ vecs[best])
    return chosen
