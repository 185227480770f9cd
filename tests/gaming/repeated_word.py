"""Gaming: the most frequent word repeated to fill the budget, citing every event that holds it."""
from __future__ import annotations

import re
from collections import Counter

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WORD = re.compile(r"[a-z]{3,}")


class Memory(MemoryProgram):
    INSTRUCTIONS = "A frequent word."

    def __init__(self, kit):
        super().__init__(kit)
        self.events: list[tuple[str, set[str]]] = []
        self.counts: Counter[str] = Counter()

    def encode(self, event: Event) -> list:
        return [(event.id, set(WORD.findall(event.text.lower())))]

    def store(self, records: list) -> None:
        for eid, words in records:
            self.events.append((eid, words))
            self.counts.update(words)

    def retrieve(self, query: Query) -> Recall:
        if not self.counts:
            return Recall()
        word = self.counts.most_common(1)[0][0]
        ids = tuple(i for i, w in self.events if word in w)
        return Recall((RecallItem(" ".join([word] * query.budget_tokens), ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
