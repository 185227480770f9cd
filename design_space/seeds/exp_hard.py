"""Capacity-bounded exemplar memory that keeps hard examples and evicts the ones feedback shows unhelpful.

Follows instance-based learning with storage reduction (Aha et al.'s IB2 / Hart's condensed
nearest neighbour: store an example only when the memory as it stands gets it wrong) and
reward-driven eviction from experience-replay buffers: every stored experience earns +1
when it was recalled for a query whose feedback matched its answer and -1 when it did
not; past ``CAPACITY`` (or the task's ``capacity_records``, whichever is smaller) the
lowest-valued experience goes, or the oldest with ``EVICT_OLDEST``.
``KEEP_EASY`` also stores examples the memory already got right. Simplified: one vector
per experience, a linear scan.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.manage.eviction import over_capacity
from design_space.components.retrieve.packing import pack

CAPACITY = 2000  # experiences kept at most
TOP_K = 5
KEEP_EASY = False  # store examples the memory already answers right too
EVICT_OLDEST = False  # evict the oldest instead of the least helpful (feedback credit, then age)
RECALLED_BONUS = 1.0  # credit per helpful recall (and debit per harmful one)


@dataclass
class Experience:
    id: str
    text: str
    label: str
    vector: np.ndarray | None  # moved into the memory's matrix once stored
    value: float = 0.0
    born: int = 0


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Each item is a past input that was hard to answer, with the answer feedback confirmed, "
                    "most similar first. Answer with the label the closest items share.")

    def __init__(self, kit):
        super().__init__(kit)
        self.kept: dict[str, Experience] = {}
        self.rows: list[str | None] = []  # experience id per row of `matrix` (None: a free row)
        self.row_of: dict[str, int] = {}
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.capacity = max(1, int(CAPACITY))
        self.recalled: list[str] = []  # ids recalled for the last query, credited when feedback comes
        self.clock = 0

    def _search(self, vector: np.ndarray, k: int) -> list[tuple[Experience, float]]:
        if not self.kept:
            return []
        n = len(self.rows)
        sims = self.matrix[:n] @ vector
        sims[[r for r, i in enumerate(self.rows) if i is None]] = -np.inf
        k = min(max(1, k), len(self.kept))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.kept[self.rows[r]], float(sims[r])) for r in top]

    def _place(self, e: Experience) -> None:
        """Put the vector in a free row (rows are reused, so the matrix never outgrows the capacity much)."""
        free = self.rows.index(None) if None in self.rows else len(self.rows)
        if free == len(self.rows):
            self.rows.append(None)
            if free >= self.matrix.shape[0]:
                grown = np.zeros((max(64, 2 * self.matrix.shape[0]), len(e.vector)), dtype=np.float32)
                if self.matrix.size:
                    grown[: self.matrix.shape[0]] = self.matrix
                self.matrix = grown
        self.matrix[free] = e.vector
        e.vector = None
        self.rows[free] = e.id
        self.row_of[e.id] = free

    def _vote(self, hits: list[tuple[Experience, float]]) -> str | None:
        votes: dict[str, float] = {}
        for rank, (e, s) in enumerate(hits):
            votes[e.label] = votes.get(e.label, 0.0) + 1.0 / (rank + 1) + max(s, 0.0)
        return max(votes, key=votes.get) if votes else None

    def encode(self, event: Event) -> list[Experience]:
        label = str(event.meta.get("label", ""))
        vector = np.asarray(self.kit.embed([event.text])[0], dtype=np.float32)
        self.clock += 1
        # IB2: an example the memory already answers right adds nothing new
        if not KEEP_EASY and self._vote(self._search(vector, int(TOP_K))) == label:
            return []
        return [Experience(event.id, event.text, label, vector, 0.0, self.clock)]

    def store(self, records: list[Experience]) -> None:
        for e in records:
            self.kept[e.id] = e
            self._place(e)
        self._evict()

    def _evict(self) -> None:
        if EVICT_OLDEST:
            values = {i: float(e.born) for i, e in self.kept.items()}
        else:
            values = {i: e.value for i, e in self.kept.items()}
        for i in over_capacity(values, self.capacity, {i: float(e.born) for i, e in self.kept.items()}):
            del self.kept[i]
            self.rows[self.row_of.pop(i)] = None

    def retrieve(self, query: Query) -> Recall:
        cap = int(query.meta.get("capacity_records", 0) or 0)
        if cap and cap < self.capacity:
            self.capacity = cap
            self._evict()
        hits = self._search(np.asarray(self.kit.embed([query.text])[0], dtype=np.float32), int(TOP_K))
        self.recalled = [e.id for e, _ in hits]
        items = [RecallItem(f"{e.text} -> {e.label}", (e.id,), s) for e, s in hits]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        if signal.kind != "feedback":
            return
        right = str(signal.payload.get("label", ""))
        for i in self.recalled:
            if i in self.kept:
                self.kept[i].value += float(RECALLED_BONUS) if self.kept[i].label == right else -float(RECALLED_BONUS)
        self.recalled = []
