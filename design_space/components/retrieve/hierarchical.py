"""Hierarchical retrieval: rank whole sessions first, then favour the turns of the best ones.

A session's text (all its turns) matches a question's topic even where no single turn holds
all its words; RAPTOR- and MemoryBank-style summaries-first retrieval use the same idea. The
session documents are a BM25 index over the concatenated turns, rebuilt when turns arrive.
"""
from __future__ import annotations

from design_space.components.retrieve.hits import Hits, blend, normalised
from design_space.components.store.bm25_index import BM25Index


def _sessions(table) -> tuple[BM25Index, list[str]]:
    cached = table.cache.get("sessions")
    if cached is not None and cached[0] == len(table):
        return cached[1], cached[2]
    names: list[str] = []
    texts: dict[str, list[str]] = {}
    for n in table.live():
        row = table[n]
        if row.session not in texts:
            names.append(row.session)
            texts[row.session] = []
        texts[row.session].append(row.text)
    index = BM25Index()
    for s in names:
        index.add(" ".join(texts[s]))
    table.cache["sessions"] = (len(table), index, names)
    return index, names


def sessions_first(hits: Hits, text: str, query, table, index, top: int = 2, pool: int = 30,
                   weight: float = 0.5) -> Hits:
    if not len(table):
        return hits
    sindex, names = _sessions(table)
    ranked = normalised(sindex.search(text, max(1, int(top))))
    best = {names[k]: s for k, s in ranked.items()}
    if not best:
        return hits
    candidates = index.search(text, max(len(hits), int(pool)))
    bonus = {d: best.get(table[d].session, 0.0) for d, _s in list(hits) + list(candidates)}
    return blend(hits, candidates, bonus, weight, len(hits))
