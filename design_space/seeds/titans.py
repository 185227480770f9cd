"""Titans: a bounded neural long-term memory trained at test time with surprise-gated writes.

Follows Titans (Behrouz, Zhong & Mirrokni, 2025): the long-term memory is a small network M
whose weights are updated while the stream is read, by gradient descent on the
associative loss ||M(k) - v||^2. The gradient is the surprise; updates carry momentum
(past surprise) and a weight decay that acts as the forgetting gate; inputs M already
predicts are not written. Reading is a forward pass M(q). As in Titans' memory-as-context
variant, a short window of the latest turns sits beside the long-term memory.
What is returned is decided by M: the memory has a fixed budget of SLOTS, each with a
random code; writing a turn teaches M to map the turn's key to its slot's code, and a
read decodes M(q) against the codes. Old, unreinforced associations fade under the decay,
and when the budget is full the slots M decodes most weakly are freed, so neither the
parameters nor the slots grow with the stream. Simplified: keys are the turn embeddings,
centred on their running mean (the paper's learned W_K / W_V projections need outer-loop training), values are slot
codes rather than learned content vectors, and a slot keeps the turn's text and source id
so that what M recalls can be shown and cited.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.neural_store import SlotMemory

TOP_K = 8
SLOTS = 256  # the long-term memory's budget: items it can hold at once, whatever the stream's length
LEARNING_RATE = 0.5  # 1.0 would be the exact delta rule on the linear path; less overwrites neighbours less
MOMENTUM = 0.1  # Titans' past-surprise term
FORGET = 0.001  # weight decay per write: the forgetting gate
SURPRISE_THRESHOLD = 0.3  # a turn whose key M already maps this close to a stored code is not written
_HIDDEN = 128  # width of the memory's residual MLP (0: a linear memory)
_SHORT_TERM = 2  # latest turns kept beside the long-term memory
_BATCH = 64  # turns embedded together before they are written


@dataclass
class Turn:
    id: str
    text: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "Turns recalled by a neural memory, best match first; the latest turns may follow."

    def __init__(self, kit):
        super().__init__(kit)
        torch.set_num_threads(1)
        self.memory: SlotMemory | None = None
        self.pending: list[Turn] = []
        self.recent: list[Turn] = []

    def encode(self, event: Event) -> list[Turn]:
        return [Turn(event.id, annotate(event))]

    def store(self, records: list[Turn]) -> None:
        self.pending.extend(records)
        self.recent = (self.recent + list(records))[-int(_SHORT_TERM):] if _SHORT_TERM else []
        if len(self.pending) >= _BATCH:  # embed in batches, but never let the queue grow with the stream
            self._write_pending()

    def _write_pending(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        vecs = np.asarray(self.kit.embed([t.text for t in batch]), dtype=np.float32)
        if self.memory is None:
            self.memory = SlotMemory(vecs.shape[1], int(SLOTS), hidden=int(_HIDDEN), lr=float(LEARNING_RATE),
                                     momentum=float(MOMENTUM), forget=float(FORGET),
                                     surprise_threshold=float(SURPRISE_THRESHOLD))
        for turn, vec in zip(batch, vecs):
            self.memory.write(vec, turn)  # skipped inside when the turn is no surprise

    def retrieve(self, query: Query) -> Recall:
        self._write_pending()
        items = []
        if self.memory is not None:
            q = np.asarray(self.kit.embed([query.text])[0], dtype=np.float32)
            items = [RecallItem(t.text, (t.id,), s) for t, s in self.memory.read(q, max(1, int(TOP_K)))]
        items += [RecallItem(t.text, (t.id,), 0.0) for t in reversed(self.recent)]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        self._write_pending()
