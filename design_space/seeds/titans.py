"""Titans: a neural long-term memory trained at test time with surprise-gated writes.

Follows Titans (Behrouz, Zhong & Mirrokni, 2025): the long-term memory is a small network M
whose weights are updated while the stream is read, by gradient descent on the
associative loss ||M(k) - v||^2. The gradient is the surprise; updates carry momentum
(past surprise) and a weight decay that acts as the forgetting gate; inputs M already
predicts well are not written (surprise-gated writes, so repeated content costs nothing).
Reading is a forward pass M(q). As in Titans' memory-as-context variant, a short-term
window of the latest turns sits beside the long-term memory. Simplified: keys and values
are the turn embeddings themselves (the learned W_K / W_V projections of the paper need
outer-loop training), and a read M(q) is decoded into turns by cosine against the turns'
values (the texts are kept only to show and cite them; a turn M already predicted well
changes no weights but stays decodable).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.packing import pack
from design_space.components.store.neural_store import NeuralMemory

TOP_K = 8
LEARNING_RATE = 0.8  # 1.0 would be the exact delta rule on the linear path; less leaves room for momentum
MOMENTUM = 0.1  # Titans' past-surprise term
FORGET = 0.0005  # weight decay per write: the forgetting gate
SURPRISE_THRESHOLD = 0.05  # relative error under which a turn is not written
_HIDDEN = 128  # width of the memory's residual MLP (0: a linear memory)
SHORT_TERM = 2  # latest turns kept beside the long-term memory


@dataclass
class Turn:
    id: str
    text: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "Turns recalled by a neural memory, best match first; the latest turns may follow."

    def __init__(self, kit):
        super().__init__(kit)
        torch.set_num_threads(1)
        self.memory: NeuralMemory | None = None
        self.slots: list[tuple[str, ...]] = []  # source ids per value
        self.texts: list[str] = []
        self.values: list[np.ndarray] = []
        self.pending: list[Turn] = []
        self.recent: list[Turn] = []
        self._matrix: np.ndarray | None = None

    def encode(self, event: Event) -> list[Turn]:
        return [Turn(event.id, annotate(event))]

    def store(self, records: list[Turn]) -> None:
        self.pending.extend(records)
        self.recent = (self.recent + list(records))[-max(0, int(SHORT_TERM)):] if SHORT_TERM else []

    def _write_pending(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        vecs = np.asarray(self.kit.embed([t.text for t in batch]), dtype=np.float32)
        if self.memory is None:
            d = vecs.shape[1]
            self.memory = NeuralMemory(d, d, hidden=int(_HIDDEN), lr=float(LEARNING_RATE), momentum=float(MOMENTUM),
                                       forget=float(FORGET), surprise_threshold=float(SURPRISE_THRESHOLD))
        for turn, vec in zip(batch, vecs):
            self.memory.write(vec, vec)  # skipped inside when the turn is no surprise
            self.slots.append((turn.id,))
            self.texts.append(turn.text)
            self.values.append(vec)

    def retrieve(self, query: Query) -> Recall:
        self._write_pending()
        if self.memory is None or not self.values:
            return Recall(())
        q = np.asarray(self.kit.embed([query.text])[0], dtype=np.float32)
        read = self.memory.read(q).numpy()
        read /= max(1e-8, float(np.linalg.norm(read)))
        if self._matrix is None or len(self._matrix) != len(self.values):
            self._matrix = np.stack(self.values)
        scores = self._matrix @ read
        k = min(max(1, int(TOP_K)), len(scores))
        best = np.argsort(-scores, kind="stable")[:k]
        items = [RecallItem(self.texts[i], self.slots[i], float(scores[i])) for i in best]
        items += [RecallItem(t.text, (t.id,), 0.0) for t in reversed(self.recent)]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        self._write_pending()
