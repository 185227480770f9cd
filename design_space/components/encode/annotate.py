"""Speaker and time annotation: the text a reader needs to place a turn ("[14 Nov 2023] Anna: ...")."""
from __future__ import annotations

import datetime as _dt

from design_space.contract import Event


def format_date(t: float) -> str:
    """A POSIX time as '14 November 2023' (UTC); empty for a missing clock."""
    if not t:
        return ""
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%d %B %Y").lstrip("0")


def annotate(event: Event, speaker: bool = True, date: bool = False) -> str:
    text = event.text
    if speaker and event.speaker:
        text = f"{event.speaker}: {text}"
    if date and event.time:
        text = f"[{format_date(event.time)}] {text}"
    return text
