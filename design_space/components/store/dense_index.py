"""A dense vector index: texts embedded in batches on demand, cosine top-k in numpy (torch on GPU).

Adds are queued and embedded together at the next search, because one batched
``kit.embed`` call is far cheaper than one per turn for neural embedders. Vectors live in a
buffer that doubles when full, so a stream that interleaves adds and searches never copies
the whole matrix per step. Rows are L2-normalised, so a dot product is the cosine similarity.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def _gpu_matmul():
    """A torch matmul on CUDA when torch and a GPU are present, else None (numpy is used)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return lambda m, q: (torch.as_tensor(m, device="cuda") @ torch.as_tensor(q, device="cuda")).cpu().numpy()


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` best (doc, score) pairs, best first (ties in doc order), dropping removed (-inf) docs."""
    if not len(scores):
        return []
    k = min(max(1, int(k)), len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    vals = scores[idx]
    keep = np.isfinite(vals)
    return list(zip(idx[keep].tolist(), vals[keep].tolist()))


def query_vector(embed: EmbedFn, last: tuple[str, np.ndarray] | None,
                 query: str | np.ndarray) -> tuple[tuple[str, np.ndarray] | None, np.ndarray]:
    """(the pair to keep, the query's float32 vector). A pipeline's stages often search the same
    text in turn, so an index keeps the last (text, vector) pair and passes it back: the text is
    embedded once. A vector query passes through and leaves the pair as it was."""
    if not isinstance(query, str):
        return last, np.asarray(query, dtype=np.float32)
    if last is None or last[0] != query:
        last = (query, np.asarray(embed([query])[0], dtype=np.float32))
    return last, last[1]


class DenseIndex:
    def __init__(self, embed: EmbedFn, use_gpu: bool = False) -> None:
        self.embed = embed
        self.texts: list[str] = []
        self.alive: list[bool] = []
        self._matrix: np.ndarray | None = None  # capacity buffer; rows [0, _rows) are in use
        self._rows = 0
        self._mask: np.ndarray | None = None
        self._pending = 0
        self._stale: set[int] = set()
        self._matmul = _gpu_matmul() if use_gpu else None
        self._last_query: tuple[str, np.ndarray] | None = None
        self._last_sims: tuple[str, np.ndarray] | None = None  # the last text query and its similarities

    def __len__(self) -> int:
        return sum(self.alive)

    def __getstate__(self) -> dict:
        # The embedder belongs to the toolkit, not to the memory: leave it out of footprints and copies.
        # Everything else stays (whatever a program hangs on the index counts); object.__getstate__
        # rather than __dict__, which the validator forbids once an export inlines this class.
        state = dict(super().__getstate__())
        state.pop("embed", None)
        state.pop("_matmul", None)
        state["_last_query"] = state["_last_sims"] = None  # caches, not memory
        return state

    def add(self, text: str) -> int:
        self.texts.append(text)
        self.alive.append(True)
        self._pending += 1
        self._mask = self._last_sims = None
        return len(self.texts) - 1

    def remove(self, doc: int) -> None:
        self.alive[doc] = False
        self._mask = self._last_sims = None

    def update(self, doc: int, text: str) -> None:
        """Replace a document's text; it is re-embedded at the next search."""
        self.texts[doc] = text
        self._stale.add(doc)
        self._last_sims = None

    def vectors(self) -> np.ndarray:
        """All document vectors (n, d), embedding whatever is still queued."""
        if self._pending:
            new = np.asarray(self.embed(self.texts[len(self.texts) - self._pending:]), dtype=np.float32)
            need = self._rows + len(new)
            if self._matrix is None or need > len(self._matrix) or self._matrix.shape[1] != new.shape[1]:
                grown = np.zeros((max(need, 2 * (len(self._matrix) if self._matrix is not None else 0), 64),
                                  new.shape[1]), dtype=np.float32)
                if self._matrix is not None and self._rows:
                    grown[: self._rows] = self._matrix[: self._rows]
                self._matrix = grown
            self._matrix[self._rows: need] = new
            self._rows = need
            self._pending = 0
        if self._stale and self._matrix is not None:
            rows = sorted(self._stale)
            self._matrix[rows] = np.asarray(self.embed([self.texts[i] for i in rows]), dtype=np.float32)
            self._stale.clear()
        if self._matrix is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self._matrix[: self._rows]

    def vector(self, doc: int) -> np.ndarray:
        return self.vectors()[doc]

    def embed_query(self, query: str | np.ndarray) -> np.ndarray:
        """The query's float32 vector; a text asked again in a row is not embedded again."""
        self._last_query, q = query_vector(self.embed, self._last_query, query)
        return q

    def similarities(self, query: str | np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every document (removed ones get -inf)."""
        if isinstance(query, str):  # stages of a pipeline search the same question in turn
            if self._last_sims is None or self._last_sims[0] != query:
                self._last_sims = (query, self._similarities(query))
            return self._last_sims[1].copy()
        return self._similarities(query)

    def _similarities(self, query: str | np.ndarray) -> np.ndarray:
        m = self.vectors()
        if not len(m):
            return np.zeros(0, dtype=np.float32)
        q = self.embed_query(query)
        sims = self._matmul(m, q) if self._matmul else m @ q
        if self._mask is None:
            self._mask = np.asarray(self.alive, dtype=bool)
        return np.where(self._mask, sims, -np.inf).astype(np.float32)

    def search(self, query: str | np.ndarray, k: int = 10) -> list[tuple[int, float]]:
        return top_k(self.similarities(query), k)
