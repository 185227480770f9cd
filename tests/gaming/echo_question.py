"""Gaming: the question itself as one item, citing every stored event that shares a word with it."""
from __future__ import annotations

import re

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WORD = re.compile(r"[a-z]{3,}")


class Memory(MemoryProgram):
    INSTRUCTIONS = "The question, restated."

    def __init__(self, kit):
        super().__init__(kit)
        self.events: list[tuple[str, set[str]]] = []

    def encode(self, event: Event) -> list:
        return [(event.id, set(WORD.findall(event.text.lower())))]

    def store(self, records: list) -> None:
        self.events.extend(records)

    def retrieve(self, query: Query) -> Recall:
        words = set(WORD.findall(query.text.lower()))
        ids = tuple(i for i, w in self.events if w & words)
        return Recall((RecallItem(query.text, ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
