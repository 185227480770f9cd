"""The program contract: the data a memory program sees and the class it must subclass.

Everything that crosses the sandbox boundary is plain data (frozen dataclasses that
round-trip through JSON); behaviour stays in the program. This module imports nothing of
memarch's, so a program exported from a campaign needs only this file (or its inlined copy).
"""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence


@dataclass(frozen=True)
class Event:
    """One thing that happened: a turn, a story line, a solved task.

    `id` is the stable source id (e.g. LoCoMo ``D3:13``) that retrieval is scored against.
    `time` is POSIX seconds (0.0 when the source has no clock).
    """

    id: str
    text: str
    time: float = 0.0
    speaker: str = ""
    session: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """A question put to memory. The program should return at most `budget_tokens` tokens."""

    id: str
    text: str
    time: float = 0.0
    budget_tokens: int = 512
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecallItem:
    """One retrieved item: the text the agent will read and the events it came from."""

    text: str
    source_ids: tuple[str, ...] = ()
    score: float = 0.0

    def __post_init__(self) -> None:
        # Accept lists from programs and JSON; keep the frozen value hashable.
        object.__setattr__(self, "source_ids", tuple(str(s) for s in self.source_ids))


@dataclass(frozen=True)
class Recall:
    """Ranked items, best first."""

    items: tuple[RecallItem, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def render(self) -> str:
        return "\n".join(item.text for item in self.items)


@dataclass(frozen=True)
class Signal:
    """A boundary the program may act on in `manage`.

    kind: ``session_end`` (a session of the stream closed), ``task_end`` (the stream is over),
    or ``feedback`` (the outcome of the last query: ``payload`` holds e.g. ``label``, ``reward``).
    """

    kind: str
    time: float = 0.0
    session: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


SIGNAL_KINDS = ("session_end", "task_end", "feedback")


class Toolkit(Protocol):
    """What the sandbox lends a program. `llm` is None when no model is configured."""

    llm: Callable[[str], str] | None

    def embed(self, texts: Sequence[str]) -> Any:  # numpy array (n, d), rows L2-normalised
        ...

    def count_tokens(self, text: str) -> int:
        ...

    def now(self) -> float:
        ...


class MemoryProgram(abc.ABC):
    """Base class of every candidate. A candidate module defines ``class Memory(MemoryProgram)``."""

    INSTRUCTIONS: str = "Answer the question using the memory items below."

    def __init__(self, kit: Toolkit) -> None:
        self.kit = kit

    @abc.abstractmethod
    def encode(self, event: Event) -> list[Any]:
        """Turn one event into records of the program's own schema."""

    @abc.abstractmethod
    def store(self, records: list[Any]) -> None:
        """Persist records."""

    @abc.abstractmethod
    def retrieve(self, query: Query) -> Recall:
        """Return ranked items for the query, each with its source event ids."""

    @abc.abstractmethod
    def manage(self, signal: Signal) -> None:
        """Maintain memory at a boundary (consolidate, forget, learn from feedback)."""


STAGES = ("encode", "store", "retrieve", "manage")


def to_json(obj: Any) -> Any:
    """Plain-JSON form of a contract dataclass."""
    return dataclasses.asdict(obj)
