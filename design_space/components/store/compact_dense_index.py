"""A dense index that stores its vectors small: int8 (per-row scale) or float16, packed, removals freed.

Storing every embedding as float32 is what makes an exemplar memory big (BANKING77 with
all-MiniLM-L6-v2: 13,083 x 384 x 4 bytes = 20 MB). Vector quantisation is the standard
remedy of vector databases: ``bits=8`` keeps each unit vector as int8 codes with one
float32 scale per row (4x smaller, cosine error ~1e-3), ``bits=16`` as float16 (2x);
``bits`` above 16 keeps float32. Rows are packed: a removed document's row is refilled by
the last row, so removal (e.g. by a condensing step) really shrinks the memory, and the
pickled state holds only rows in use (no growth slack) and no texts once embedded.

``centre=True`` ranks by the cosine of mean-centred vectors (the running mean of every vector
added): sentence embeddings share a common direction that inflates every similarity, and
removing it is the cheapest post-processing that sharpens nearest neighbours (Mu & Viswanath's
"all-but-the-top", first step); it costs one extra product per search and a d-vector.

Same methods as `DenseIndex` (add, remove, update, search by text or vector, similarities,
vectors, vector), so `swap_index` moves a program between the two.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from design_space.components.store.dense_index import query_vector, top_k

EmbedFn = Callable[[Sequence[str]], np.ndarray]


def _dtype(bits: int):
    return np.int8 if bits <= 8 else np.float16 if bits <= 16 else np.float32


class CompactDenseIndex:
    def __init__(self, embed: EmbedFn, bits: int = 8, centre: bool = False) -> None:
        self.embed = embed
        self.bits = int(bits)
        self.centre = bool(centre)
        self._sum: np.ndarray | None = None  # sum and count of every vector added (the centring mean)
        self._count = 0
        self._sq = np.zeros(0, dtype=np.float32)  # squared norm of each stored (dequantised) row
        self.texts: list[str | None] = []  # kept only until embedded (or while an update is queued)
        self.row_of: list[int] = []  # document -> packed row (-1: removed)
        self._docs = np.zeros(0, dtype=np.int32)  # packed row -> document
        self._codes: np.ndarray | None = None
        self._scale = np.zeros(0, dtype=np.float32)  # int8 only: per-row dequantisation scale
        self._rows = 0
        self._pending: list[int] = []  # documents added, not yet embedded
        self._last_query: tuple[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return self._rows + sum(1 for d in self._pending if self.row_of[d] != -1)

    def __getstate__(self) -> dict:
        # What the memory holds: rows in use only (no doubling slack), and no embedder; anything else a
        # program hangs on the index counts too. object.__getstate__, not __dict__, so an exported
        # (inlined) program passes validation.
        state = dict(super().__getstate__())
        state.pop("embed", None)
        state["_last_query"] = None  # a cache, not memory
        if self._codes is not None:
            state["_codes"] = self._codes[: self._rows].copy()
            state["_docs"] = self._docs[: self._rows].copy()
            state["_scale"] = self._scale[: self._rows].copy()
            state["_sq"] = self._sq[: self._rows].copy()
        return state

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.embed = None

    def add(self, text: str) -> int:
        self.texts.append(text)
        self.row_of.append(-2)  # -2: queued
        self._pending.append(len(self.texts) - 1)
        return len(self.texts) - 1

    def remove(self, doc: int) -> None:
        row = self.row_of[doc]
        self.row_of[doc] = -1
        self.texts[doc] = None
        if row < 0:
            return
        last = self._rows - 1
        if row != last:  # move the last row into the hole
            self._codes[row] = self._codes[last]
            self._scale[row] = self._scale[last]
            self._sq[row] = self._sq[last]
            moved = int(self._docs[last])
            self._docs[row] = moved
            self.row_of[moved] = row
        self._rows = last

    def update(self, doc: int, text: str) -> None:
        """Replace a document's text; it is re-embedded at the next search."""
        if self.row_of[doc] == -1:
            return
        self.texts[doc] = text
        if doc not in self._pending:
            self._pending.append(doc)

    def _encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if _dtype(self.bits) is np.int8:
            scale = np.abs(vectors).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            return np.round(vectors / scale[:, None]).astype(np.int8), scale.astype(np.float32)
        return vectors.astype(_dtype(self.bits)), np.ones(len(vectors), dtype=np.float32)

    def _flush(self) -> None:
        docs = [d for d in self._pending if self.row_of[d] != -1]
        self._pending = []
        if not docs:
            return
        raw = np.asarray(self.embed([self.texts[d] for d in docs]), dtype=np.float32)
        self._sum = raw.sum(axis=0, dtype=np.float64) + (self._sum if self._sum is not None else 0.0)
        self._count += len(raw)
        codes, scale = self._encode(raw)
        sq = (codes.astype(np.float32) ** 2).sum(axis=1) * scale ** 2
        if self._codes is None or self._codes.shape[1] != codes.shape[1]:
            self._codes = np.zeros((0, codes.shape[1]), dtype=codes.dtype)
        fresh = [d for d in docs if self.row_of[d] < 0]
        for i, d in enumerate(docs):
            if self.row_of[d] >= 0:  # an update: rewrite its row in place
                self._codes[self.row_of[d]] = codes[i]
                self._scale[self.row_of[d]] = scale[i]
                self._sq[self.row_of[d]] = sq[i]
        need = self._rows + len(fresh)
        if need > len(self._codes):
            size = max(need, 2 * len(self._codes), 64)
            self._codes = np.concatenate([self._codes[: self._rows],
                                          np.zeros((size - self._rows, codes.shape[1]), codes.dtype)])
            self._scale = np.concatenate([self._scale[: self._rows], np.zeros(size - self._rows, np.float32)])
            self._docs = np.concatenate([self._docs[: self._rows], np.zeros(size - self._rows, np.int32)])
            self._sq = np.concatenate([self._sq[: self._rows], np.zeros(size - self._rows, np.float32)])
        at = {d: i for i, d in enumerate(docs)}
        for d in fresh:
            self._codes[self._rows] = codes[at[d]]
            self._scale[self._rows] = scale[at[d]]
            self._sq[self._rows] = sq[at[d]]
            self._docs[self._rows] = d
            self.row_of[d] = self._rows
            self._rows += 1
        for d in docs:
            self.texts[d] = None

    def _packed(self) -> np.ndarray:
        self._flush()
        if self._codes is None:
            return np.zeros((0, 0), dtype=np.float32)
        return self._codes[: self._rows]

    def vectors(self) -> np.ndarray:
        """Every document's (dequantised) vector, (n, d); removed documents are zero rows."""
        packed = self._packed()
        out = np.zeros((len(self.row_of), packed.shape[1] if packed.size else 0), dtype=np.float32)
        if self._rows:
            out[self._docs[: self._rows]] = packed.astype(np.float32) * self._scale[: self._rows, None]
        return out

    def vector(self, doc: int) -> np.ndarray:
        self._flush()
        row = self.row_of[doc]
        if row < 0:
            raise KeyError(f"document {doc} was removed")
        return self._codes[row].astype(np.float32) * self._scale[row]

    def embed_query(self, query: str | np.ndarray) -> np.ndarray:
        """The query's float32 vector; a text asked again in a row is not embedded again."""
        self._last_query, q = query_vector(self.embed, self._last_query, query)
        return q

    def similarities(self, query: str | np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every document (removed ones get -inf)."""
        packed = self._packed()
        out = np.full(len(self.row_of), -np.inf, dtype=np.float32)
        if not self._rows:
            return out
        q = self.embed_query(query)
        # numpy has no fast int8/float16 product: widen per search (the memory stays small, the search pays)
        wide = packed.astype(np.float32)
        scale = self._scale[: self._rows]
        dots = (wide @ q) * scale
        if self.centre and self._count:
            mu = (self._sum / self._count).astype(np.float32)
            xm = (wide @ mu) * scale
            mm = float(mu @ mu)
            qc = max(float(np.linalg.norm(q - mu)), 1e-12)
            norms = np.sqrt(np.maximum(self._sq[: self._rows] - 2 * xm + mm, 1e-12))
            dots = (dots - xm - float(mu @ q) + mm) / (norms * qc)
        out[self._docs[: self._rows]] = dots
        return out

    def search(self, query: str | np.ndarray, k: int = 10) -> list[tuple[int, float]]:
        return top_k(self.similarities(query), k)
