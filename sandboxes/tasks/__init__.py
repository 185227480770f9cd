"""Tasks: data sources turned into streams of events and queries with gold labels."""
from __future__ import annotations

from sandboxes.tasks.base import Episode, Gold, Stream, Task, TaskError
from sandboxes.tasks.babi import Babi
from sandboxes.tasks.banking77 import Banking77
from sandboxes.tasks.drift import DriftStream
from sandboxes.tasks.locomo import LoCoMo
from sandboxes.tasks.longmemeval import LongMemEval
from sandboxes.tasks.synthetic import SyntheticConversations

TASKS: dict[str, type] = {"synthetic": SyntheticConversations, "locomo": LoCoMo, "longmemeval": LongMemEval,
                          "babi": Babi, "banking77": Banking77, "drift": DriftStream}
# experience streams: their events carry feedback labels (catalogue components marked `labelled` use them)
LABELLED = frozenset({"banking77", "drift"})


def get_task(name: str) -> Task:
    try:
        return TASKS[name]()
    except KeyError:
        raise TaskError(f"unknown task {name!r} (known: {', '.join(sorted(TASKS))})") from None


__all__ = ["LABELLED", "TASKS", "Episode", "Gold", "Stream", "Task", "TaskError", "get_task"]
