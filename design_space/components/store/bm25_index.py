"""An Okapi BM25 index over growing text, kept incrementally: adding a document never rebuilds it.

Scores are the Lucene variant (the `bm25s` library's default, which
tests/test_components_store.py checks them against): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
term weight = tf / (tf + k1 (1 - b + b |d| / avgdl)). Postings (term -> documents, counts)
grow with each add; a query touches only its terms' postings plus one pass over the document
lengths, so a stream that interleaves adds and queries stays linear. Removed documents
keep their place in N and avgdl (as an index rebuilt over every added document would) and are
masked out of results. With `stem`, documents and queries are indexed by their words' Porter
stems (design_space/components/encode/stemming.py), so "painted" matches "paintings".
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from design_space.components.encode.entities import tokens
from design_space.components.encode.stemming import stem_all
from design_space.components.store.dense_index import top_k

_EMPTY = "\x00"  # a document without content words is one token long; this one never matches a query


class BM25Index:
    def __init__(self, k1: float = 1.2, b: float = 0.75, stem: bool = False) -> None:
        self.k1, self.b = float(k1), float(b)
        self.stem = bool(stem)
        self.alive: list[bool] = []
        self.lengths: list[int] = []  # tokens per document
        self.postings: dict[str, tuple[list[int], list[int]]] = {}  # term -> (documents, counts)
        self._total = 0
        self._clear_caches()

    def _clear_caches(self) -> None:
        self._arrays: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}  # term -> (df, docs, tf)
        self._norm: np.ndarray | None = None  # k1 (1 - b + b |d| / avgdl) per document
        self._mask: np.ndarray | None = None
        self._last: tuple[str, np.ndarray] | None = None  # the last query and its scores

    def __getstate__(self) -> dict:
        # Caches are derived from the postings, not state (a program's footprint counts state);
        # object.__getstate__ rather than __dict__, which the validator forbids once an export inlines this.
        state = dict(super().__getstate__())
        for cache in ("_arrays", "_norm", "_mask", "_last"):
            state.pop(cache, None)
        return state

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._clear_caches()

    def __len__(self) -> int:
        return sum(self.alive)

    def add(self, text: str) -> int:
        """Index `text`; returns its document number."""
        words = self._terms(text) or [_EMPTY]
        doc = len(self.lengths)
        for w, c in Counter(words).items():
            entry = self.postings.get(w)
            if entry is None:
                self.postings[w] = entry = ([], [])
            entry[0].append(doc)
            entry[1].append(c)
        self.lengths.append(len(words))
        self._total += len(words)
        self.alive.append(True)
        self._norm = self._mask = self._last = None
        return doc

    def _terms(self, text: str) -> list[str]:
        return stem_all(tokens(text)) if self.stem else tokens(text)

    def remove(self, doc: int) -> None:
        self.alive[doc] = False
        self._mask = self._last = None

    def _posting(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        entry = self.postings.get(term)
        if entry is None:
            return None
        cached = self._arrays.get(term)
        if cached is None or cached[0] != len(entry[0]):
            cached = (len(entry[0]), np.asarray(entry[0], dtype=np.intp), np.asarray(entry[1], dtype=np.float64))
            self._arrays[term] = cached
        return cached[1], cached[2]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document (removed ones score 0)."""
        # A pipeline's stages search the same question in turn: score it once while nothing changed.
        if self._last is not None and self._last[0] == query:
            return self._last[1].copy()
        out = self._scores(query)
        self._last = (query, out)
        return out.copy()

    def _scores(self, query: str) -> np.ndarray:
        n = len(self.lengths)
        q = self._terms(query)
        if not n or not q:
            return np.zeros(n, dtype=np.float32)
        if self._norm is None:
            lengths = np.asarray(self.lengths, dtype=np.float64)
            self._norm = self.k1 * ((1.0 - self.b) + self.b * lengths / (self._total / n))
        s = np.zeros(n, dtype=np.float64)
        for term in q:  # a repeated query word counts once per repetition
            posting = self._posting(term)
            if posting is None:
                continue
            docs, tf = posting
            df = len(docs)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            s[docs] += idf * tf / (self._norm[docs] + tf)  # a term lists each document once
        if self._mask is None:
            self._mask = np.asarray(self.alive, dtype=bool)
        s[~self._mask] = 0.0
        return s.astype(np.float32)

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        """Top-k (document, score) with a positive score, best first."""
        return [(d, v) for d, v in top_k(self.scores(query), k) if v > 0]
