"""Gaming: show the single best-matching turn, but cite the ids of the 300 best matches."""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.store.bm25_index import BM25Index

N_IDS = 300


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
        hits = self.index.search(query.text, N_IDS)
        if not hits:
            return Recall()
        return Recall((RecallItem(self.texts[hits[0][0]], tuple(self.ids[d] for d, _s in hits), 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
