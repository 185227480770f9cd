"""BM25 RAG: every turn is a document; the query's top-k turns by Okapi BM25 are recalled.

Follows the sparse-retrieval baseline used in LoCoMo and LongMemEval (Robertson & Zaragoza's
BM25 with k1 and b), via the bm25s library. Simplified: lower-cased word tokens, an English
stop-word list, no stemming; optional neighbouring turns as context.
"""
from __future__ import annotations

from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.expansion import neighbours
from design_space.components.retrieve.packing import pack
from design_space.components.store.bm25_index import BM25Index

TOP_K = 10
K1 = 1.2
B = 0.75
SHOW_SPEAKER = True
NEIGHBOUR_RADIUS = 0  # also recall this many turns either side of a hit


@dataclass
class Doc:
    id: str
    text: str
    session: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns matched the question by keywords, best match first."

    def __init__(self, kit):
        super().__init__(kit)
        self.docs: list[Doc] = []
        self.index = BM25Index(K1, B)

    def encode(self, event: Event) -> list[Doc]:
        return [Doc(event.id, annotate(event, speaker=SHOW_SPEAKER), event.session)]

    def store(self, records: list[Doc]) -> None:
        for doc in records:
            self.docs.append(doc)
            self.index.add(doc.text)

    def retrieve(self, query: Query) -> Recall:
        hits = self.index.search(query.text, max(1, int(TOP_K)))
        score = dict(hits)
        order = neighbours([d for d, _ in hits], len(self.docs), int(NEIGHBOUR_RADIUS),
                           [d.session for d in self.docs])
        items = [RecallItem(self.docs[d].text, (self.docs[d].id,), score.get(d, 0.5 * score[h])) for d, h in order]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
