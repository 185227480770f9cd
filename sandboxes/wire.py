"""The stream as it is written into a sandbox (no gold) and the transcript that comes back."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterator

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Step

_KINDS = {Event: "event", Query: "query", Signal: "signal"}
_TYPES = {v: k for k, v in _KINDS.items()}


def step_to_json(step: Step) -> dict[str, Any]:
    return {"type": _KINDS[type(step)], "data": dataclasses.asdict(step)}


def step_from_json(d: dict[str, Any]) -> Step:
    return _TYPES[d["type"]](**d["data"])


def episode_lines(episodes: list[Episode]) -> Iterator[str]:
    """One JSON line per step; an ``episode`` line opens each episode."""
    for ep in episodes:
        yield json.dumps({"type": "episode", "id": ep.id}) + "\n"
        for step in ep.steps:
            yield json.dumps(step_to_json(step)) + "\n"


def write_episodes(path: str, episodes: list[Episode]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(episode_lines(episodes))


def read_episodes(path: str) -> Iterator[tuple[str, Iterator[Step]]]:
    """Yield (episode id, its steps) lazily so a 10^6-event stream never sits in memory twice."""
    with open(path, encoding="utf-8") as fh:
        head = fh.readline()
        while head:
            d = json.loads(head)
            if d.get("type") != "episode":
                raise ValueError("stream file must start each episode with an episode line")
            box = {"next": ""}

            def steps() -> Iterator[Step]:
                for line in fh:
                    item = json.loads(line)
                    if item["type"] == "episode":
                        box["next"] = line
                        return
                    yield step_from_json(item)

            it = steps()
            yield d["id"], it
            for _ in it:  # drain whatever the consumer did not read
                pass
            head = box["next"]
