"""The turn table of a pipeline program: every stored turn in order, numbered like its index.

A pipeline program keeps `self.turns` next to `self.index`; turn *n* is document *n* of the
index, so a hit (n, score) from any component names its turn. Components that need a derived
structure (a second index, session documents, document frequencies) keep it in `cache`,
brought up to date lazily from the turns added since.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from design_space.contract import Event, RecallItem


@dataclass
class Turn:
    id: str
    text: str  # what is indexed and shown
    session: str
    time: float
    speaker: str
    raw: str  # the event's own words, without annotation or context
    label: str = ""  # the answer feedback confirmed for it (experience streams), else empty

    @classmethod
    def of(cls, event: Event, text: str) -> "Turn":
        return cls(event.id, text, event.session, event.time, event.speaker, event.text,
                   str(event.meta.get("label", "")))


class Turns:
    def __init__(self) -> None:
        self.rows: list[Turn] = []
        self.alive: list[bool] = []
        self.cache: dict[str, object] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, n: int) -> Turn:
        return self.rows[n]

    def append(self, turn: Turn) -> int:
        self.rows.append(turn)
        self.alive.append(True)
        return len(self.rows) - 1

    def remove(self, n: int) -> None:
        self.alive[n] = False

    def live(self) -> Iterable[int]:
        return (n for n, ok in enumerate(self.alive) if ok)

    def items(self, hits: Iterable[tuple[int, float]]) -> list[RecallItem]:
        """Recall items for hits, in order, skipping removed turns."""
        return [RecallItem(self.rows[n].text, (self.rows[n].id,), float(s)) for n, s in hits
                if 0 <= n < len(self.rows) and self.alive[n]]
