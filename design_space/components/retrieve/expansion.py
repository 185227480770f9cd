"""Neighbour and session expansion: add the turns around a hit, or the rest of its session.

Answers often span adjacent turns (a question and its reply, "Rex loves carrots" after
"Anna has a dog called Rex"); expansion trades a little budget for that context.
"""
from __future__ import annotations

from typing import Sequence


def neighbours(hits: Sequence[int], n_docs: int, radius: int = 1,
               session_of: Sequence[str] | None = None) -> list[tuple[int, int]]:
    """(doc, hit it came from) for docs within `radius` of a hit, hits first, in rank order.

    With `session_of`, neighbours never cross a session boundary."""
    out: dict[int, int] = {}
    for h in hits:
        out.setdefault(h, h)
    for h in hits:
        for d in range(1, int(radius) + 1):
            for j in (h - d, h + d):
                if 0 <= j < n_docs and j not in out:
                    if session_of is not None and session_of[j] != session_of[h]:
                        continue
                    out[j] = h
    return list(out.items())


def session_members(hits: Sequence[int], session_of: Sequence[str], max_sessions: int = 1) -> list[int]:
    """All docs of the sessions of the first `max_sessions` distinct hit sessions, in order."""
    chosen: list[str] = []
    for h in hits:
        s = session_of[h]
        if s not in chosen:
            chosen.append(s)
        if len(chosen) >= max_sessions:
            break
    wanted = set(chosen)
    return [i for i, s in enumerate(session_of) if s in wanted]


def with_neighbours(hits, text, query, table, index, radius: int = 1):
    """Pipeline step: the hits, then the turns within `radius` of each (same session, half its score)."""
    if radius <= 0:
        return hits
    score = dict(hits)
    order = neighbours([d for d, _ in hits], len(table), int(radius), [row.session for row in table.rows])
    return [(d, score.get(d, 0.5 * score[h])) for d, h in order if table.alive[d]]
