"""Dense RAG: every turn is embedded; the query's nearest turns by cosine similarity are recalled.

Follows the dense-retrieval baseline of LoCoMo / LongMemEval (a sentence embedder such as
all-MiniLM-L6-v2 over turns, top-k by cosine). Simplified: brute-force search in numpy,
turns embedded with their speaker (and optionally date) as one text.
"""
from __future__ import annotations

from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.dense_index import DenseIndex

TOP_K = 10
MIN_SIMILARITY = 0.0  # below this a turn is not recalled (lets the program abstain)
SHOW_SPEAKER = True
SHOW_DATES = False


@dataclass
class Doc:
    id: str
    text: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns are the closest in meaning to the question, best first."

    def __init__(self, kit):
        super().__init__(kit)
        self.docs: list[Doc] = []
        self.index = DenseIndex(kit.embed)

    def encode(self, event: Event) -> list[Doc]:
        return [Doc(event.id, annotate(event, speaker=SHOW_SPEAKER, date=SHOW_DATES))]

    def store(self, records: list[Doc]) -> None:
        for doc in records:
            self.docs.append(doc)
            self.index.add(doc.text)

    def retrieve(self, query: Query) -> Recall:
        hits = self.index.search(query.text, max(1, int(TOP_K)))
        items = [RecallItem(self.docs[d].text, (self.docs[d].id,), s) for d, s in hits if s > MIN_SIMILARITY]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
