"""Encode-stage text steps of a pipeline: what words of a turn are indexed.

`with_context` prefixes a turn with the turns before it in its session (a reply is indexed
with its question); `with_date` prefixes the turn's date, so a question naming a date matches.
Both read the turns stored so far, which is why they take the turn table.
"""
from __future__ import annotations

from design_space.components.encode.annotate import format_date
from design_space.contract import Event


def with_context(text: str, event: Event, table, turns: int = 1) -> str:
    """`text` after the raw words of up to `turns` earlier turns of the same session."""
    before: list[str] = []
    n = len(table) - 1
    while n >= 0 and len(before) < max(0, int(turns)):
        row = table[n]
        if row.session != event.session:
            break
        before.append(row.raw)
        n -= 1
    return " | ".join(list(reversed(before)) + [text]) if before else text


def with_date(text: str, event: Event, table) -> str:
    """`text` with the turn's date in front ("[7 May 2023] ...")."""
    date = format_date(event.time)
    return f"[{date}] {text}" if date else text
