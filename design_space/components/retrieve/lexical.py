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


def _weights(words: list[str], idf) -> dict[str, float]:
    """Sublinear tf times idf per distinct word, in first-seen order (the order the norm is summed in)."""
    return {w: (1.0 + math.log(c)) * idf(w) for w, c in Counter(words).items()}


def blend_lexical(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.25) -> Hits:
    df, seen = table.cache.get("lexical", ({}, 0))
    for n in range(seen, len(table)):
        for w in set(tokens(table[n].raw)):
            df[w] = df.get(w, 0) + 1
    table.cache["lexical"] = (df, len(table))
    w = min(1.0, max(0.0, float(weight)))
    n = len(table)
    idfs: dict[str, float] = {}  # smoothed idf, once per word per call

    def idf(word: str) -> float:
        x = idfs.get(word)
        if x is None:
            x = idfs[word] = math.log((1 + n) / (1 + df.get(word, 0))) + 1.0
        return x

    q = _weights(tokens(text), idf)
    if not q or w == 0.0:
        return hits
    q_norm = math.sqrt(sum(x * x for x in q.values())) or 1.0
    q = {t: x / q_norm for t, x in q.items()}
    candidates = {d: s for d, s in index.search(text, max(len(hits), int(pool)))}
    candidates.update({d: s for d, s in hits if d not in candidates})
    scored = []
    for d, s in candidates.items():
        if not (0 <= d < len(table)) or not table.alive[d]:
            continue
        v = _weights(tokens(table[d].raw), idf)
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        # The cosine over the question's words only; each term as the full normalised vector has it.
        scored.append((d, (1.0 - w) * float(s) + w * sum(x * (v[t] / norm if t in v else 0.0) for t, x in q.items())))
    scored.sort(key=lambda h: -h[1])
    return scored[: len(hits)]
