"""Chained state retrieval: follow what a hit names to the latest turn about it.

"Where is the milk?" is answered by two turns: the last one that moved the milk ("Mary got the
milk there") and where its holder was then or went since ("Mary went to the garden"), which
shares no word with the question. Multi-hop retrieval re-queries with the first hit's new words
but ranks the second pass by similarity, so it returns Mary's best-matching line, not her latest.
For each of the top `breadth` hits this step re-queries `depth` deep with what the hit adds to
the question (the names it mentions, else its content words), keeps the turns that share no word
with the question (the rest are more of the first pass), and scores each by its rank in time
among them (newest 1, oldest 0; the last one before the hit also 1: where the holder stood when
it happened) times its normalised score. Up to two such turns per followed hit join the list, at
`weight` times that score. Put it after a recency step, so that the first hit is the latest
statement about the thing asked.
"""
from __future__ import annotations

from design_space.components.encode.entities import entities, tokens
from design_space.components.retrieve.hits import Hits, blend, normalised
from design_space.components.retrieve.multihop import added_words


def bridge(raw: str, asked: set[str]) -> str:
    """What a turn adds to the question: its names, else its content words, minus the question's words."""
    names = [e for e in entities(raw) if not set(tokens(e)) <= asked]
    if names:
        return " ".join(names)
    return " ".join(added_words(raw, asked))


def follow_latest(hits: Hits, text: str, query, table, index, breadth: int = 1, depth: int = 30,
                  weight: float = 0.8) -> Hits:
    if not hits or float(weight) == 0.0:
        return hits
    asked = set(tokens(query.text)) | set(tokens(text))
    bonus: dict[int, float] = {}
    first = {d for d, _s in hits}
    for d, _s in hits[: max(1, int(breadth))]:
        if not 0 <= d < len(table):
            continue
        words = bridge(table[d].raw, asked)
        if not words:
            continue
        found = {e: s for e, s in normalised(index.search(words, max(2, int(depth)))).items()
                 if e != d and 0 <= e < len(table) and not asked.intersection(tokens(table[e].raw))}
        if not found:
            continue
        order = sorted(found, key=lambda e: (table[e].time, e))
        last = max(1, len(order) - 1)
        rank = {e: (i / last if len(order) > 1 else 1.0) for i, e in enumerate(order)}
        before = [e for e in order if (table[e].time, e) < (table[d].time, d)]
        if before:
            rank[before[-1]] = 1.0  # where the thing named stood when the hit happened
        for e, r in rank.items():
            bonus[e] = max(bonus.get(e, 0.0), found[e] * r)
    pool = [(e, 0.0) for e in bonus if e not in first]
    return blend(hits, pool, bonus, weight, len(hits) + min(len(pool), 2 * max(1, int(breadth))))
