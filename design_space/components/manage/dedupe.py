"""Deduplication: exact (normalised text) and near-duplicate (cosine above a threshold) detection."""
from __future__ import annotations

import re

import numpy as np

_SPACE = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def exact_duplicate(text: str, seen: dict[str, int]) -> int | None:
    """The record number already holding this text (after normalisation), else None; records it."""
    key = normalise(text)
    if key in seen:
        return seen[key]
    seen[key] = len(seen)
    return None


def near_duplicates(vectors: np.ndarray, threshold: float = 0.95) -> list[tuple[int, int]]:
    """(kept, duplicate) pairs: each later row whose cosine with an earlier kept row >= threshold."""
    v = np.asarray(vectors, dtype=np.float32)
    pairs: list[tuple[int, int]] = []
    kept: list[int] = []
    for i in range(len(v)):
        if kept:
            sims = v[kept] @ v[i]
            j = int(np.argmax(sims))
            if sims[j] >= threshold:
                pairs.append((kept[j], i))
                continue
        kept.append(i)
    return pairs


def most_similar(vectors: np.ndarray, query: np.ndarray, alive: np.ndarray | None = None) -> tuple[int, float]:
    """(row, cosine) of the closest live row; (-1, -inf) when there is none."""
    v = np.asarray(vectors, dtype=np.float32)
    if not len(v):
        return -1, float("-inf")
    sims = v @ np.asarray(query, dtype=np.float32)
    if alive is not None:
        sims = np.where(alive, sims, -np.inf)
    j = int(np.argmax(sims))
    return j, float(sims[j])
