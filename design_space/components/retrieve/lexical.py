"""Sparse-dense score mixing: blend each hit's score with the tf-idf cosine of its words and the query's.

Hybrid retrievers mix a dense similarity with a lexical one because each catches what the
other misses (a rare word shared, a paraphrase). Unlike rank fusion (`fuse_bm25`), this mixes
the *scores* of a deeper dense pool: ``(1 - weight) * dense + weight * tfidf_cosine`` with
sublinear term frequency and smoothed idf over every turn stored. The document frequencies
are the only extra state (a word -> count table in the turn table's cache, brought up to date
lazily), so the memory does not grow with a second index. Returns as many hits as given.
"""
from __future__ import annotations

import math
from collections import Counter

from design_space.components.encode.entities import tokens
from design_space.components.retrieve.hits import Hits


def _vector(words: list[str], df: dict[str, int], n: int) -> dict[str, float]:
    v = {w: (1.0 + math.log(c)) * (math.log((1 + n) / (1 + df.get(w, 0))) + 1.0) for w, c in Counter(words).items()}
    norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
    return {w: x / norm for w, x in v.items()}


def blend_lexical(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.25) -> Hits:
    df, seen = table.cache.get("lexical", ({}, 0))
    for n in range(seen, len(table)):
        for w in set(tokens(table[n].raw)):
            df[w] = df.get(w, 0) + 1
    table.cache["lexical"] = (df, len(table))
    w = min(1.0, max(0.0, float(weight)))
    q = _vector(tokens(text), df, len(table))
    if not q or w == 0.0:
        return hits
    candidates = {d: s for d, s in index.search(text, max(len(hits), int(pool)))}
    candidates.update({d: s for d, s in hits if d not in candidates})
    scored = []
    for d, s in candidates.items():
        if not (0 <= d < len(table)) or not table.alive[d]:
            continue
        v = _vector(tokens(table[d].raw), df, len(table))
        scored.append((d, (1.0 - w) * float(s) + w * sum(x * v.get(t, 0.0) for t, x in q.items())))
    scored.sort(key=lambda h: -h[1])
    return scored[: len(hits)]
