"""BANKING77 compact exemplar memory: c0057 of `memarch run examples/banking77-compact.yaml` (2026-12-02).

Found by that campaign from the `dense_rag` seed by offline structural edits alone: swap
`DenseIndex` for `CompactDenseIndex` (int8), `INDEX_CENTRE` on, `MIN_SIMILARITY 0.137`,
`TOP_K 7`, insert `label_vote` (8 voters, power 6). Held-out test accuracy 0.9273 at 6,937 KB
(MiniLM). The seed of `examples/banking77-compact-full.yaml`, which continues that search at
full fidelity of the search split. Kept as stored except this docstring and two knobs made
constants, with the values c0057 had: `SHOW_SPEAKER` (BANKING77 events have no speaker, so
flipping it changes nothing but the code) and `SHOW_DATES` (stream times are step numbers;
dated texts miss the embedding cache, and a trial that turned them on embedded the whole
stream in its sandbox and timed out).
"""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.turns import Turn, Turns
from design_space.components.store.compact_dense_index import CompactDenseIndex
from design_space.components.retrieve.label_vote import vote_labels

TOP_K = 7
MIN_SIMILARITY = 0.137  # below this a turn is not recalled (lets the program abstain)
INDEX_BITS = 8
INDEX_CENTRE = True
VOTE_POOL = 8
VOTE_POWER = 6.0


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

