"""Gaming: a dozen of the most frequent words, citing every event that holds one of them."""
from __future__ import annotations

import re
from collections import Counter

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WORD = re.compile(r"[a-z]{3,}")
N_WORDS = 12


class Memory(MemoryProgram):
    INSTRUCTIONS = "Frequent words of the conversation."

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
        top = [w for w, _n in self.counts.most_common(N_WORDS)]
        ids = tuple(i for i, w in self.events if w.intersection(top))
        return Recall((RecallItem(" ".join(top), ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
