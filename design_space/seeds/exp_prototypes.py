"""Class prototypes: one running centroid per answer; an input recalls the answers whose centroid is closest.

Follows prototype memories for few-shot and continual classification (Snell et al.'s
prototypical networks; nearest-class-mean classifiers in continual learning): the memory
holds one vector per label — the mean of the embeddings of its solved tasks — instead of
the tasks themselves, so its footprint grows with the number of labels, not of examples.
``DECAY`` < 1 makes each centroid an exponential moving average, so old examples fade
when the right answer drifts. Simplified: each recalled prototype is shown with its label
and its ``EXAMPLES`` latest examples, and cites exactly those (an item cites only events
whose text it shows).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.retrieve.packing import pack

TOP_K = 3  # prototypes recalled
DECAY = 1.0  # weight of the old centroid when an example joins (1.0: a plain mean)
EXAMPLES = 1  # latest examples a prototype shows and cites


@dataclass
class Example:
    id: str
    text: str
    label: str


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Each item is an answer seen before, with a recent input that had it; the closest answer "
                    "comes first. Pick the answer whose examples look most like the new input.")

    def __init__(self, kit):
        super().__init__(kit)
        self.labels: list[str] = []
        self.sums = np.zeros((0, 0), dtype=np.float32)  # one (decayed) sum of embeddings per label
        self.recent: dict[str, deque] = {}
        self.pending: list[Example] = []

    def encode(self, event: Event) -> list[Example]:
        return [Example(event.id, event.text, str(event.meta.get("label", "")))]

    def store(self, records: list[Example]) -> None:
        self.pending.extend(records)

    def _absorb(self) -> None:
        """Fold queued examples into their centroids (embedded in one batch)."""
        if not self.pending:
            return
        vectors = np.asarray(self.kit.embed([e.text for e in self.pending]), dtype=np.float32)
        for e, v in zip(self.pending, vectors):
            if e.label not in self.recent:
                self.labels.append(e.label)
                self.recent[e.label] = deque(maxlen=max(1, int(EXAMPLES)))
                row = np.zeros((1, len(v)), dtype=np.float32)
                self.sums = row if not self.sums.size else np.vstack([self.sums, row])
            i = self.labels.index(e.label)
            self.sums[i] = float(DECAY) * self.sums[i] + v
            self.recent[e.label].append(e)
        self.pending = []

    def retrieve(self, query: Query) -> Recall:
        self._absorb()
        if not self.labels:
            return Recall()
        norms = np.linalg.norm(self.sums, axis=1)
        norms[norms == 0] = 1.0
        sims = (self.sums / norms[:, None]) @ np.asarray(self.kit.embed([query.text])[0], dtype=np.float32)
        items = []
        for i in np.argsort(-sims, kind="stable")[: max(1, int(TOP_K))]:
            label = self.labels[int(i)]
            latest = self.recent[label]
            text = f"{label}: e.g. " + "; ".join(f'"{e.text}"' for e in latest)
            items.append(RecallItem(text, tuple(e.id for e in latest), float(sims[i])))
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
