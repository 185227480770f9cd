"""Gaming: the question padded with stop words to the budget, citing every stored event that shares
a word with it."""
from __future__ import annotations

import re

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WORD = re.compile(r"[a-z]{3,}")
PAD = "the and that with this have from what when were they about just like really yeah"


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
        words = set(WORD.findall(query.text.lower())) | set(PAD.split())
        ids = tuple(i for i, w in self.events if w & words)
        room = max(0, query.budget_tokens - self.kit.count_tokens(query.text))
        pad = (PAD.split() * (room // 15 + 1))[:room]
        return Recall((RecallItem(" ".join([query.text] + pad), ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
