"""A BM25 index over growing text (bm25s under the hood), rebuilt lazily when searched after adds.

bm25s builds a sparse index in one pass (10k docs in ~0.35 s), so appends mark the index
stale and the next search rebuilds it; removed documents are masked out of results.
"""
from __future__ import annotations

import bm25s
import numpy as np

from design_space.components.encode.entities import tokens

_EMPTY = "\x00"  # bm25s needs a token per document; this one never matches a query


class BM25Index:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = float(k1), float(b)
        self.docs: list[list[str]] = []
        self.alive: list[bool] = []
        self._model: bm25s.BM25 | None = None

    def __len__(self) -> int:
        return sum(self.alive)

    def add(self, text: str) -> int:
        """Index `text`; returns its document number."""
        self.docs.append(tokens(text) or [_EMPTY])
        self.alive.append(True)
        self._model = None
        return len(self.docs) - 1

    def remove(self, doc: int) -> None:
        self.alive[doc] = False

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document (removed ones score 0)."""
        q = tokens(query)
        if not self.docs or not q:
            return np.zeros(len(self.docs), dtype=np.float32)
        if self._model is None:
            self._model = bm25s.BM25(k1=self.k1, b=self.b)
            self._model.index(self.docs, show_progress=False)
        s = np.asarray(self._model.get_scores(q), dtype=np.float32)
        return np.where(np.asarray(self.alive), s, 0.0).astype(np.float32)

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """Top-k (document, score) with a positive score, best first."""
        s = self.scores(query)
        if not len(s):
            return []
        k = min(max(1, int(k)), len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx if s[i] > 0]
