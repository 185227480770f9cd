"""Manage step: condense an exemplar memory, keeping only examples its neighbours do not already answer.

Storage reduction for nearest-neighbour memories (Hart's condensed NN, Wilson/Aha's
instance filtering): an example whose `k` nearest other stored examples carry its own
label in a share of at least `margin` sits inside its class's region and adds nothing a
vote over its neighbours would not say; it is removed from the turn table and the index.
Boundary examples (neighbours disagree) stay. Runs on every signal over the turns stored
since the last pass (the warm set at its `session_end`, then each streamed example at the
next feedback). Turns without a label (conversation tasks) are never removed. Removal
frees memory only with an index that releases rows (`CompactDenseIndex`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

_BLOCK = 256  # turns compared with the memory per matrix product


def _neighbours(sims: np.ndarray, k: int) -> np.ndarray:
    finite = int(np.isfinite(sims).sum())
    if finite < k:
        return np.zeros(0, dtype=int)
    return np.argpartition(-sims, k - 1)[:k]


def condense(signal, table, index, k: int = 5, margin: float = 1.0) -> None:
    start = table.cache.get("condense", 0)
    table.cache["condense"] = len(table)
    todo = [n for n in range(start, len(table)) if table.alive[n] and table[n].label]
    if not todo or not hasattr(index, "vectors"):
        return None
    k = max(1, int(k))
    vectors = index.vectors()
    alive = np.asarray(table.alive[: len(vectors)], dtype=bool)
    for at in range(0, len(todo), _BLOCK):
        block = [n for n in todo[at: at + _BLOCK] if n < len(vectors)]
        sims = vectors[block] @ vectors.T if block else np.zeros((0, 0))
        for row, n in enumerate(block):
            s = np.where(alive, sims[row], -np.inf)
            s[n] = -np.inf
            near = _neighbours(s, k)
            if not len(near):
                continue
            label = table[n].label
            if sum(table[int(m)].label == label for m in near) / k >= float(margin):
                table.remove(n)
                index.remove(n)
                alive[n] = False
                table.rows[n] = dataclasses.replace(table[n], text="", raw="")  # its words are no longer held
    return None
