"""Query-side steps: pseudo-relevance feedback (RM3-style expansion) and keyword-only queries.

PRF (Rocchio; Lavrenko & Croft's relevance models, RM3 in Anserini) assumes the first few hits
are relevant and adds their most distinctive words — frequent in those hits, rare in the
collection — to the query, so a second search reaches turns that use the answer's words
rather than the question's.
"""
from __future__ import annotations

import math
from collections import Counter

from design_space.components.encode.entities import tokens
from design_space.components.retrieve.query_rewrite import keyword_query


def document_frequencies(table) -> tuple[Counter, int]:
    """Document frequency of every content word over the turns, updated for turns added since."""
    df, seen = table.cache.get("df", (Counter(), 0))
    for n in range(seen, len(table)):
        df.update(set(tokens(table[n].text)))
    table.cache["df"] = (df, len(table))
    return df, len(table)


def expand_prf(text: str, query, table, index, docs: int = 3, terms: int = 5) -> str:
    """`text` followed by up to `terms` feedback words from its top `docs` hits."""
    if not len(table) or terms <= 0:
        return text
    hits = index.search(text, max(1, int(docs)))
    if not hits:
        return text
    df, n = document_frequencies(table)
    asked = set(tokens(text))
    weight: Counter = Counter()
    for rank, (d, _s) in enumerate(hits):
        words = tokens(table[d].text)
        tf = Counter(words)
        for w, c in tf.items():
            if w not in asked and not w.isdigit():
                weight[w] += (c / len(words)) * math.log(1 + n / (1 + df[w])) / (1 + rank)
    extra = [w for w, _ in weight.most_common(int(terms))]
    return text + " " + " ".join(extra) if extra else text


def keywords_only(text: str, query, table, index) -> str:
    """The question's names and content words, question words and stop-words dropped."""
    return keyword_query(text)
