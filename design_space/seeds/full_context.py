"""Full context: the whole conversation, oldest first, truncated to the budget as a context window would.

Follows the full-context baseline of LoCoMo and LongMemEval, where the model reads the
entire history (with session dates) and whatever exceeds its context window is cut from
the start. Simplified: the "window" is the query's token budget, and turns are kept whole.
"""
from __future__ import annotations

from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate, format_date

KEEP_NEWEST = True  # cut from the start (a context window) rather than from the end
SHOW_DATES = True  # a session header with its date, as in the LoCoMo full-context prompt
SHOW_SPEAKER = True


@dataclass
class Turn:
    id: str
    text: str
    session: str
    time: float


class Memory(MemoryProgram):
    INSTRUCTIONS = "This is the conversation so far, in order (possibly cut at the start)."

    def __init__(self, kit):
        super().__init__(kit)
        self.turns: list[Turn] = []

    def encode(self, event: Event) -> list[Turn]:
        return [Turn(event.id, annotate(event, speaker=SHOW_SPEAKER), event.session, event.time)]

    def store(self, records: list[Turn]) -> None:
        self.turns.extend(records)

    def _lines(self) -> list[tuple[str, tuple[str, ...]]]:
        lines: list[tuple[str, tuple[str, ...]]] = []
        session = None
        for turn in self.turns:
            if SHOW_DATES and turn.session != session and turn.time:
                session = turn.session
                lines.append((f"[{format_date(turn.time)}]", ()))
            lines.append((turn.text, (turn.id,)))
        return lines

    def retrieve(self, query: Query) -> Recall:
        lines = self._lines()
        order = reversed(lines) if KEEP_NEWEST else iter(lines)
        kept, used = [], 0
        for text, ids in order:
            n = self.kit.count_tokens(text)
            if used + n > query.budget_tokens:
                break
            kept.append((text, ids))
            used += n
        if KEEP_NEWEST:
            kept.reverse()
        if not kept:
            return Recall(())
        # One item, read in order: the transcript as a model would see it.
        text = "\n".join(t for t, _ in kept)
        ids = tuple(i for _, ids in kept for i in ids)
        return Recall((RecallItem(text, ids, 1.0),))

    def manage(self, signal: Signal) -> None:
        return None
