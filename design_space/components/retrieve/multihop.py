"""Iterative (multi-hop) retrieval: re-query with what the first pass found.

A multi-hop question ("What did the friend Anna met in Paris recommend?") shares words with
the first hop's evidence only; the second hop's evidence shares words with the first hop's
answer. Following IRCoT / Baleen-style iterative retrieval without a model, each of the top
`breadth` hits gives a second query made of what it adds to the question (its words the
question lacks: the bridge, e.g. a name); turns found that way join the ranking with `weight`
times their normalised second-pass score.
"""
from __future__ import annotations

from design_space.components.encode.entities import tokens
from design_space.components.retrieve.hits import Hits, blend, normalised


def added_words(raw: str, asked: set[str]) -> list[str]:
    """A turn's content words the question lacks, in order, once each: the bridge to a second hop."""
    return [w for w in dict.fromkeys(tokens(raw)) if w not in asked]


def requery(hits: Hits, text: str, query, table, index, breadth: int = 2, depth: int = 8,
            weight: float = 0.6) -> Hits:
    if not hits:
        return hits
    bonus: dict[int, float] = {}
    first = {d for d, _ in hits}
    asked = set(tokens(text))
    for d, _s in hits[: max(1, int(breadth))]:
        bridge = added_words(table[d].raw, asked)
        if not bridge:
            continue
        second = index.search(" ".join(bridge), max(1, int(depth)))
        for e, s in normalised(second).items():
            if e != d:
                bonus[e] = max(bonus.get(e, 0.0), s)
    pool = [(e, 0.0) for e in bonus if e not in first]
    return blend(hits, pool, bonus, weight, len(hits))
