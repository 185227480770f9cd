"""Speaker and entity boosting: favour turns said by, or naming, the people a question names.

Conversational memory questions are mostly about someone ("What did Caroline research?"):
a turn spoken by that person, or mentioning them, is more likely to be the evidence than an
equally worded turn about someone else.
"""
from __future__ import annotations

from design_space.components.encode.entities import entities
from design_space.components.retrieve.hits import Hits, blend


def boost_entities(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.3) -> Hits:
    names = [e.lower() for e in entities(query.text)]
    if not names:
        return hits
    candidates = index.search(text, max(len(hits), int(pool)))
    bonus = {}
    for d, _s in list(hits) + list(candidates):
        row = table[d]
        said = row.speaker.lower()
        words = row.raw.lower()
        got = sum(1.0 if said and (n == said or n.split()[0] == said.split()[0]) else 0.5 if n in words else 0.0
                  for n in names)
        bonus[d] = min(1.0, got / len(names))
    return blend(hits, candidates, bonus, weight, len(hits))
