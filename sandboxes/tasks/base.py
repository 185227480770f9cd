"""The task protocol: a task builds a stream (what the program sees) and gold (what it must not).

The trusted side builds both. Only the stream is written into the sandbox; the harness
replays it through the program and returns a transcript; the trusted side scores the
transcript against the gold. A hostile program therefore never holds the answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from design_space.contract import Event, Query, Signal


@dataclass(frozen=True)
class Gold:
    """What a query should retrieve or answer."""

    evidence: tuple[str, ...] = ()
    answer: str = ""
    category: str = "all"
    abstain: bool = False  # the right behaviour is to find nothing / say it is unknown
    evidence_sessions: tuple[str, ...] = ()


Step = Event | Query | Signal


@dataclass
class Episode:
    """One independent memory lifetime: a fresh program instance replays `steps` in order."""

    id: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class Stream:
    episodes: list[Episode]
    gold: dict[str, Gold]  # by query id; never sent into a sandbox
    event_text: dict[str, str] = field(default_factory=dict)  # for failure samples
    event_session: dict[str, str] = field(default_factory=dict)  # for session-level recall
    query_text: dict[str, str] = field(default_factory=dict)  # by query id: for answerers and failure samples


class Task(Protocol):
    name: str

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        """Make the stream and its gold. Must be deterministic in (params, fidelity, seed)."""
        ...


class TaskError(ValueError):
    """Bad task parameters or data; the message names the cause."""
