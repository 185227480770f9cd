"""Chunking: one record per turn, a sliding window of turns, or one record per session.

A `Chunk` keeps the text a reader will see together with the ids of the events it came
from, so that retrieval stays scoreable whatever the granularity.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from design_space.contract import Event
from design_space.components.encode.annotate import annotate


@dataclass
class Chunk:
    text: str
    source_ids: tuple[str, ...]
    time: float = 0.0
    session: str = ""
    meta: dict = field(default_factory=dict)


def turn_chunk(event: Event, speaker: bool = True, date: bool = False) -> Chunk:
    """One chunk per turn, optionally annotated with speaker and date."""
    return Chunk(annotate(event, speaker=speaker, date=date), (event.id,), event.time, event.session)


class SlidingWindow:
    """Emits a chunk of the last `size` turns on the first turn and then every `stride` turns
    (overlapping windows when stride < size); `flush()` emits the turns not yet emitted."""

    def __init__(self, size: int = 3, stride: int = 1, speaker: bool = True) -> None:
        self.size = max(1, int(size))
        self.stride = max(1, int(stride))
        self.speaker = speaker
        self._buf: deque[Event] = deque(maxlen=self.size)
        self._since = 0

    def push(self, event: Event) -> list[Chunk]:
        if self._buf and self._buf[-1].session != event.session:
            self._buf.clear()  # windows never straddle sessions
            self._since = 0
        self._buf.append(event)
        self._since += 1
        if self._since < self.stride and len(self._buf) > 1:
            return []
        return self._emit()

    def _emit(self) -> list[Chunk]:
        self._since = 0
        events = list(self._buf)
        text = "\n".join(annotate(e, speaker=self.speaker) for e in events)
        return [Chunk(text, tuple(e.id for e in events), events[-1].time, events[-1].session)]

    def flush(self) -> list[Chunk]:
        return self._emit() if self._since and self._buf else []


class SessionBuffer:
    """Collects a session's turns; `flush()` at session end returns them as one chunk."""

    def __init__(self, speaker: bool = True, max_turns: int = 0) -> None:
        self.speaker = speaker
        self.max_turns = int(max_turns)
        self._events: list[Event] = []

    def push(self, event: Event) -> list[Chunk]:
        out = []
        if self._events and self._events[-1].session != event.session:
            out = self.flush()
        self._events.append(event)
        if self.max_turns and len(self._events) >= self.max_turns:
            out += self.flush()
        return out

    def flush(self) -> list[Chunk]:
        if not self._events:
            return []
        events, self._events = self._events, []
        text = "\n".join(annotate(e, speaker=self.speaker) for e in events)
        return [Chunk(text, tuple(e.id for e in events), events[-1].time, events[-1].session)]
