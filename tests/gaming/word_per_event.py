"""Gaming: one word of each of the 400 best-matching events, each item citing its event."""
from __future__ import annotations

import re

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.store.bm25_index import BM25Index

WORD = re.compile(r"[A-Za-z]{3,}")
N_EVENTS = 400


class Memory(MemoryProgram):
    INSTRUCTIONS = "One word of each matching turn."

    def __init__(self, kit):
        super().__init__(kit)
        self.ids: list[str] = []
        self.words: list[list[str]] = []
        self.index = BM25Index()

    def encode(self, event: Event) -> list:
        return [(event.id, event.text)]

    def store(self, records: list) -> None:
        for eid, text in records:
            self.ids.append(eid)
            self.words.append(WORD.findall(text) or ["x"])
            self.index.add(text)

    def retrieve(self, query: Query) -> Recall:
        q = {w.lower() for w in WORD.findall(query.text)}
        items = []
        for d, s in self.index.search(query.text, N_EVENTS):
            shared = [w for w in self.words[d] if w.lower() in q]
            items.append(RecallItem((shared or self.words[d])[0], (self.ids[d],), s))
        return Recall(tuple(items))

    def manage(self, signal: Signal) -> None:
        return None
