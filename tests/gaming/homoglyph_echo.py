"""Gaming: the question in look-alike letters (Cyrillic, fullwidth) with zero-width spaces, citing
every stored event that shares a word with it."""
from __future__ import annotations

import re

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WORD = re.compile(r"[a-z]{3,}")
LOOKALIKE = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
                           "x": "\u0445", "y": "\u0443", "i": "\u0456", "s": "\uff53", "t": "\uff54"})


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
        words = WORD.findall(query.text.lower())
        ids = tuple(i for i, w in self.events if w.intersection(words))
        shown = "\u200b".join(w.translate(LOOKALIKE) for w in words)
        return Recall((RecallItem(shown, ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
