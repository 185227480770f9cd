"""Experience streams: labelled examples turned into query → feedback → solved-task steps.

Every step of the stream is one example: the program is asked (a `Query` holding only the
input text), then told the outcome (a `Signal` of kind ``feedback`` with the correct label),
then given the solved task as an `Event` whose ``meta["label"]`` is the label. A label is
therefore never visible before its query. A warm start replays a train split first, as
events only. The program is told its capacity budget in every query's ``meta`` and in
every feedback payload (there is no new signal kind, so programs written for
conversations run unchanged).

Ids are opaque stream positions (``w00012`` warm, ``q00012`` / ``x00012`` for the query
and the solved task of stream step 12): data files list examples grouped by class, so an
id made from the file row would leak the label.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError


@dataclass(frozen=True)
class Example:
    key: str  # stable id in the data set (selection and splits hash it)
    text: str
    label: str


@dataclass
class ExperienceParams:
    """Parameters shared by every experience task."""

    warm: bool = True  # replay the warm (train) examples as events before the stream
    order: str = "shuffled"  # shuffled (by the job seed + order_seed) | file
    order_seed: int = 0  # vary the stream order without changing anything else
    budget_tokens: int = 256
    capacity_records: int = 0  # the memory's budget in records (0: unbounded); told to the program
    capacity_tokens: int = 0  # the memory's budget in tokens of stored text (0: unbounded)
    window: int = 0  # size of the "last window" for accuracy_last (0: a tenth of the stream)
    fallback: str = "none"  # an empty vote counts as wrong (none) or predicts the majority so far (majority)


@dataclass
class ExperienceStream(Stream):
    """A Stream plus what the experience scorer needs: every event's label and stream order."""

    event_label: dict[str, str] = field(default_factory=dict)
    position: dict[str, int] = field(default_factory=dict)  # step index of every event and query
    order: list[str] = field(default_factory=list)  # query ids in stream order
    drift_at: int | None = None  # index into `order` of the first query after the drift
    window: int = 0
    fallback: str = "none"
    capacity_records: int = 0
    capacity_tokens: int = 0


def check(p: ExperienceParams, task: str) -> None:
    if p.order not in ("shuffled", "file"):
        raise TaskError(f"{task} task: parameter 'order' must be shuffled or file, not {p.order!r}")
    if p.fallback not in ("none", "majority"):
        raise TaskError(f"{task} task: parameter 'fallback' must be none or majority, not {p.fallback!r}")
    for name in ("capacity_records", "capacity_tokens", "window"):
        if getattr(p, name) < 0:
            raise TaskError(f"{task} task: parameter {name!r} must be >= 0")
    if p.budget_tokens < 1:
        raise TaskError(f"{task} task: parameter 'budget_tokens' must be >= 1")


def ordered(examples: Sequence[Example], p: ExperienceParams, seed: int, salt: str) -> list[Example]:
    """The stream order: as given, or a shuffle fixed by (job seed, order_seed)."""
    out = list(examples)
    if p.order == "shuffled":
        random.Random(f"{salt}:{seed}:{p.order_seed}").shuffle(out)
    return out


def build_stream(task: str, warm: Sequence[Example], stream: Sequence[Example], p: ExperienceParams,
                 drift_at: int | None = None) -> ExperienceStream:
    if not stream:
        raise TaskError(f"{task} task: the stream is empty (check the split and subset sizes)")
    capacity = {"capacity_records": p.capacity_records, "capacity_tokens": p.capacity_tokens}
    out = ExperienceStream(episodes=[], gold={}, drift_at=drift_at, window=p.window or max(1, len(stream) // 10),
                           fallback=p.fallback, **capacity)
    steps: list[Any] = []
    if p.warm and warm:
        for i, ex in enumerate(warm):
            eid = f"w{i:05d}"
            steps.append(Event(id=eid, text=ex.text, time=float(len(steps)), session="warm", meta={"label": ex.label}))
            out.event_label[eid] = ex.label
            out.event_text[eid] = ex.text
            out.position[eid] = len(steps) - 1
        steps.append(Signal(kind="session_end", time=float(len(steps)), session="warm"))
    for i, ex in enumerate(stream):
        qid, eid = f"q{i:05d}", f"x{i:05d}"
        t = float(len(steps))
        steps.append(Query(id=qid, text=ex.text, time=t, budget_tokens=p.budget_tokens, meta=dict(capacity)))
        out.position[qid] = len(steps) - 1
        steps.append(Signal(kind="feedback", time=t, session="stream", payload={"query_id": qid, "label": ex.label, **capacity}))
        steps.append(Event(id=eid, text=ex.text, time=t, session="stream", meta={"label": ex.label}))
        out.position[eid] = len(steps) - 1
        out.gold[qid] = Gold(answer=ex.label, category=ex.label)
        out.query_text[qid] = ex.text
        out.event_label[eid] = ex.label
        out.event_text[eid] = ex.text
        out.order.append(qid)
    steps.append(Signal(kind="task_end", time=float(len(steps))))
    out.episodes.append(Episode(id=task, steps=steps))
    return out
