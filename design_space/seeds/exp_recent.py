"""ExpRecent: only the most recent experiences are kept; the most similar of them are recalled.

Follows Evo-Memory's ExpRecent baseline (a sliding window of the latest solved tasks) —
the memory that adapts fastest when the right answer for a kind of input changes, and
forgets everything older than its window. Simplified: within the window experiences are
ranked by cosine similarity plus a small bonus for being recent (``RECENCY_WEIGHT``), so
the window still works when there are many kinds of input; the window shrinks to the
task's ``capacity_records`` when that is smaller.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.retrieve.packing import pack

WINDOW = 200  # experiences kept
TOP_K = 5
RECENCY_WEIGHT = 0.1  # bonus for the newest experience, falling linearly to 0 for the oldest
SHOW_LABEL = True


@dataclass
class Experience:
    id: str
    text: str
    label: str
    vector: np.ndarray | None = field(default=None, repr=False)


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Each item is a recent past input and the answer feedback confirmed for it, most relevant "
                    "first. Recent answers reflect the current rules: prefer them.")

    def __init__(self, kit):
        super().__init__(kit)
        self.window: deque[Experience] = deque(maxlen=max(1, int(WINDOW)))

    def encode(self, event: Event) -> list[Experience]:
        return [Experience(event.id, event.text, str(event.meta.get("label", "")))]

    def store(self, records: list[Experience]) -> None:
        self.window.extend(records)

    def _fit(self, capacity: int) -> None:
        if capacity and capacity < (self.window.maxlen or 0):
            self.window = deque(self.window, maxlen=capacity)

    def retrieve(self, query: Query) -> Recall:
        self._fit(int(query.meta.get("capacity_records", 0) or 0))
        if not self.window:
            return Recall()
        todo = [e for e in self.window if e.vector is None]
        if todo:
            for e, v in zip(todo, np.asarray(self.kit.embed([e.text for e in todo]), dtype=np.float32)):
                e.vector = v
        exps = list(self.window)
        sims = np.stack([e.vector for e in exps]) @ np.asarray(self.kit.embed([query.text])[0], dtype=np.float32)
        sims = sims + float(RECENCY_WEIGHT) * np.linspace(0.0, 1.0, len(exps), dtype=np.float32)
        k = min(max(1, int(TOP_K)), len(exps))
        top = np.argsort(-sims, kind="stable")[:k]
        items = [RecallItem(f"{exps[i].text} -> {exps[i].label}" if SHOW_LABEL else exps[i].text,
                            (exps[i].id,), float(sims[i])) for i in top]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        self._fit(int(signal.payload.get("capacity_records", 0) or 0))
