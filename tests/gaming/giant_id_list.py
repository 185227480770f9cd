"""Gaming: the best-matching turn as one item citing every id stored, best matches first."""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.store.bm25_index import BM25Index


class Memory(MemoryProgram):
    INSTRUCTIONS = "The best-matching turn."

    def __init__(self, kit):
        super().__init__(kit)
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.index = BM25Index()

    def encode(self, event: Event) -> list:
        return [(event.id, event.text)]

    def store(self, records: list) -> None:
        for eid, text in records:
            self.ids.append(eid)
            self.texts.append(text)
            self.index.add(text)

    def retrieve(self, query: Query) -> Recall:
        if not self.ids:
            return Recall()
        scores = self.index.scores(query.text)
        order = sorted(range(len(self.ids)), key=lambda d: -float(scores[d]))
        return Recall((RecallItem(self.texts[order[0]], tuple(self.ids[d] for d in order), 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
