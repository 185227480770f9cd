"""Recency-aware retrieval: among turns that match a question, favour the ones said last.

Memory of a changing world is overwritten, not appended to: "Where is Mary?" is answered by
the last line that moved Mary, "What is my current job?" by the last turn that named it.
Similarity cannot tell the old statement from the new one — both share the question's words —
so the step reads a deeper pool and adds `weight` × a recency score: the pool's turns ranked by
their time (ties by the order they were stored), newest 1, oldest 0. Ranks, not ages, so the
same weight means the same on a story told in minutes and on a chat history of months (the
recency score of Generative Agents decays with age and needs a half-life per task).
"""
from __future__ import annotations

from design_space.components.retrieve.hits import Hits, blend


def boost_recent(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.3) -> Hits:
    candidates = index.search(text, max(len(hits), int(pool)))
    turns = {d for d, _s in list(hits) + list(candidates) if 0 <= d < len(table)}
    if len(turns) < 2 or float(weight) == 0.0:
        return hits
    order = sorted(turns, key=lambda d: (table[d].time, d))
    last = len(order) - 1
    bonus = {d: i / last for i, d in enumerate(order)}
    return blend(hits, candidates, bonus, weight, len(hits))
