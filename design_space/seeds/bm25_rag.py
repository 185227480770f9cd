"""BM25 RAG: every turn is a document; the query's top-k turns by Okapi BM25 are recalled.

Follows the sparse-retrieval baseline used in LoCoMo and LongMemEval (Robertson & Zaragoza's
BM25 with k1 and b, Lucene idf), kept incrementally. Simplified: lower-cased word tokens, an English
stop-word list, no stemming; optional neighbouring turns as context.

Written as a pipeline (design_space/catalogue.py): structural search inserts, replaces and
removes the component lines of `encode`, `retrieve` and `manage`, and swaps the index.
"""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.expansion import with_neighbours
from design_space.components.retrieve.packing import pack
from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.turns import Turn, Turns

TOP_K = 10
K1 = 1.2
B = 0.75
SHOW_SPEAKER = True
NEIGHBOUR_RADIUS = 0  # also recall this many turns either side of a hit


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns matched the question by keywords, best match first."

    def __init__(self, kit):
        super().__init__(kit)
        self.turns = Turns()
        self.index = BM25Index(K1, B)

    def encode(self, event: Event) -> list[Turn]:
        text = annotate(event, speaker=SHOW_SPEAKER)
        return [Turn.of(event, text)]

    def store(self, records: list[Turn]) -> None:
        for turn in records:
            self.turns.append(turn)
            self.index.add(turn.text)

    def retrieve(self, query: Query) -> Recall:
        text = query.text
        hits = self.index.search(text, max(1, int(TOP_K)))
        hits = with_neighbours(hits, text, query, self.turns, self.index, radius=int(NEIGHBOUR_RADIUS))
        return pack(self.turns.items(hits), query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
