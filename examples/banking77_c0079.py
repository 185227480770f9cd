"""BANKING77 compact exemplar memory: c0079 of `memarch run examples/banking77-compact-full.yaml` (2026-12-02).

The third stage's front: c0057 (examples/banking77_c0057.py) with its vote re-tuned at full
fidelity of the search split by `tune` (`TOP_K 12`, `MIN_SIMILARITY 0.2045`, 9 voters, power
12.55). 0.9324 on the search split at 5,318 KB; held-out test accuracy 0.9263 at 7,026 KB
(MiniLM, footprint as measured since 2026-12-02). The seed of examples/banking77-model.yaml.
Kept as stored except this docstring.
"""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.turns import Turn, Turns
from design_space.components.store.compact_dense_index import CompactDenseIndex
from design_space.components.retrieve.label_vote import vote_labels

TOP_K = 12
MIN_SIMILARITY = 0.2045  # below this a turn is not recalled (lets the program abstain)
INDEX_BITS = 7
INDEX_CENTRE = True
VOTE_POOL = 9
VOTE_POWER = 12.554181


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns are the closest in meaning to the question, best first."

    def __init__(self, kit):
        super().__init__(kit)
        self.turns = Turns()
        self.index = CompactDenseIndex(kit.embed, bits=INDEX_BITS, centre=INDEX_CENTRE)

    def encode(self, event: Event) -> list[Turn]:
        text = annotate(event, speaker=True, date=False)
        return [Turn.of(event, text)]

    def store(self, records: list[Turn]) -> None:
        for turn in records:
            self.turns.append(turn)
            self.index.add(turn.text)

    def retrieve(self, query: Query) -> Recall:
        text = query.text
        hits = self.index.search(text, max(1, int(TOP_K)))
        hits = [(d, s) for d, s in hits if s > MIN_SIMILARITY]
        hits = vote_labels(hits, text, query, self.turns, self.index, pool=int(VOTE_POOL), power=float(VOTE_POWER))
        return pack(self.turns.items(hits), query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None


