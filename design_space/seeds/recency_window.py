"""Recency window: the agent sees the most recent turns that fit its budget.

Follows the "last-N turns" buffer that chat agents use by default (e.g. LangChain's
ConversationBufferWindowMemory). Simplified: no summary of what falls out of the window.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

WINDOW = 64  # turns kept
SHOW_SPEAKER = True


@dataclass
class Turn:
    id: str
    text: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "These are the most recent turns of the conversation, newest first."

    def __init__(self, kit):
        super().__init__(kit)
        self.turns: deque[Turn] = deque(maxlen=max(1, int(WINDOW)))

    def encode(self, event: Event) -> list[Turn]:
        text = f"{event.speaker}: {event.text}" if SHOW_SPEAKER and event.speaker else event.text
        return [Turn(event.id, text)]

    def store(self, records: list[Turn]) -> None:
        self.turns.extend(records)

    def retrieve(self, query: Query) -> Recall:
        items = []
        used = 0
        for rank, turn in enumerate(reversed(self.turns)):
            n = self.kit.count_tokens(turn.text)
            if used + n > query.budget_tokens:
                break
            used += n
            items.append(RecallItem(turn.text, (turn.id,), 1.0 / (rank + 1)))
        return Recall(tuple(items))

    def manage(self, signal: Signal) -> None:
        return None
