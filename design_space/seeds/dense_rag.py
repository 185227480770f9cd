"""Dense RAG: every turn is embedded; the query's nearest turns by cosine similarity are recalled.

Follows the dense-retrieval baseline of LoCoMo / LongMemEval (a sentence embedder such as
all-MiniLM-L6-v2 over turns, top-k by cosine). Simplified: brute-force search in numpy,
turns embedded with their speaker (and optionally date) as one text.

Written as a pipeline (design_space/catalogue.py): structural search inserts, replaces and
removes the component lines of `encode`, `retrieve` and `manage`, and swaps the index.
"""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.dense_index import DenseIndex
from design_space.components.store.turns import Turn, Turns

TOP_K = 10
MIN_SIMILARITY = 0.0  # below this a turn is not recalled (lets the program abstain)
SHOW_SPEAKER = True
SHOW_DATES = False


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns are the closest in meaning to the question, best first."

    def __init__(self, kit):
        super().__init__(kit)
        self.turns = Turns()
        self.index = DenseIndex(kit.embed)

    def encode(self, event: Event) -> list[Turn]:
        text = annotate(event, speaker=SHOW_SPEAKER, date=SHOW_DATES)
        return [Turn.of(event, text)]

    def store(self, records: list[Turn]) -> None:
        for turn in records:
            self.turns.append(turn)
            self.index.add(turn.text)

    def retrieve(self, query: Query) -> Recall:
        text = query.text
        hits = self.index.search(text, max(1, int(TOP_K)))
        hits = [(d, s) for d, s in hits if s > MIN_SIMILARITY]
        return pack(self.turns.items(hits), query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
