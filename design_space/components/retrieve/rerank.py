"""Reranking by coverage: of a deeper pool, favour turns holding more of the question's words.

A cheap stand-in for a cross-encoder: the share of the question's content words a turn
contains, plus a bonus for each adjacent word pair it contains in order (phrases matter more
than scattered words). The first-stage score keeps its say through the blend.
"""
from __future__ import annotations

from design_space.components.encode.entities import tokens
from design_space.components.retrieve.hits import Hits, blend


def coverage(question: list[str], text: str) -> float:
    if not question:
        return 0.0
    words = tokens(text)
    have = set(words)
    share = len(set(question) & have) / len(set(question))
    pairs = set(zip(words, words[1:]))
    asked = list(zip(question, question[1:]))
    bigrams = sum(p in pairs for p in asked) / len(asked) if asked else 0.0
    return (2 * share + bigrams) / 3


def rerank_coverage(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.5) -> Hits:
    question = tokens(query.text)
    if not question:
        return hits
    candidates = index.search(text, max(len(hits), int(pool)))
    bonus = {d: coverage(question, table[d].text) for d, _s in list(hits) + list(candidates)}
    return blend(hits, candidates, bonus, weight, len(hits))
