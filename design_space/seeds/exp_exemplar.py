"""ExpRAG: every solved task is an experience; the most similar past experiences are recalled.

Follows the exemplar-retrieval baseline of Evo-Memory (ExpRAG) and kNN in-context learning:
each solved task (input + the label its feedback revealed) is stored, and a new input
recalls the top-k most similar past experiences by cosine similarity of the Kit's
embeddings, each shown as "input -> answer" with its source id. Similarity mixes the dense cosine
with an Okapi BM25 score over content words (``SPARSE_WEIGHT``: 0 dense only, 1 sparse only),
as hybrid retrievers do. Simplified: one vector per experience, no re-ranking, nothing is
ever forgotten.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.entities import tokens
from design_space.components.retrieve.packing import pack

TOP_K = 8
MIN_SCORE = 0.0  # experiences less similar than this are not recalled
SHOW_LABEL = True  # show the answer next to each recalled input
SPARSE_WEIGHT = 0.5  # share of the BM25 score (scaled to [0, 1]) in the similarity
K1 = 1.2
B = 0.75


@dataclass
class Experience:
    id: str
    text: str
    label: str


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Each item is a past input and the answer that feedback confirmed for it, most similar "
                    "first. Answer the new input with the label its closest past experiences share.")

    def __init__(self, kit):
        super().__init__(kit)
        self.items: list[Experience] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.rows = 0  # rows of `matrix` in use; it grows by doubling so an add is O(1) amortised
        self.postings: dict[str, list[int]] = {}  # content word -> experiences holding it
        self.lengths: list[int] = []  # distinct content words per experience

    def encode(self, event: Event) -> list[Experience]:
        return [Experience(event.id, event.text, str(event.meta.get("label", "")))]

    def store(self, records: list[Experience]) -> None:
        for e in records:
            words = set(tokens(e.text))
            for w in words:
                self.postings.setdefault(w, []).append(len(self.items))
            self.lengths.append(max(1, len(words)))
            self.items.append(e)

    def _sparse(self, text: str) -> np.ndarray:
        """Okapi BM25 (each word counted once) of the text against every experience, scaled to [0, 1]."""
        n = len(self.items)
        scores = np.zeros(n, dtype=np.float32)
        words = [w for w in set(tokens(text)) if w in self.postings]
        if not words:
            return scores
        lengths = np.asarray(self.lengths, dtype=np.float32)
        norm = 1.0 + K1 * (1.0 - B + B * lengths / lengths.mean())
        for w in words:
            df = len(self.postings[w])
            rows = np.asarray(self.postings[w])
            scores[rows] += math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * (K1 + 1.0) / norm[rows]
        top = float(scores.max())
        return scores / top if top > 0 else scores

    def _vectors(self) -> np.ndarray:
        if self.rows < len(self.items):
            new = np.asarray(self.kit.embed([e.text for e in self.items[self.rows:]]), dtype=np.float32)
            if self.matrix.shape[0] < len(self.items):
                grown = np.zeros((max(2 * self.matrix.shape[0], len(self.items), 64), new.shape[1]), np.float32)
                if self.rows:
                    grown[: self.rows] = self.matrix[: self.rows]
                self.matrix = grown
            self.matrix[self.rows: len(self.items)] = new
            self.rows = len(self.items)
        return self.matrix[: self.rows]

    def retrieve(self, query: Query) -> Recall:
        m = self._vectors()
        if not len(m):
            return Recall()
        w = min(1.0, max(0.0, float(SPARSE_WEIGHT)))
        sims = np.zeros(len(m), dtype=np.float32)
        if w < 1.0:
            sims += (1.0 - w) * (m @ np.asarray(self.kit.embed([query.text])[0], dtype=np.float32))
        if w > 0.0:
            sims += w * self._sparse(query.text)
        k = min(max(1, int(TOP_K)), len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        items = []
        for i in top:
            if sims[i] < MIN_SCORE:
                continue
            e = self.items[int(i)]
            text = f"{e.text} -> {e.label}" if SHOW_LABEL else e.text
            items.append(RecallItem(text, (e.id,), float(sims[i])))
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
