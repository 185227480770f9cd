"""Score fusion: merge the program's hits with a second retriever's ranking by reciprocal rank.

The second retriever (dense or BM25) indexes the same turn texts and is kept in the turn
table's cache, brought up to date with the turns added since the last query. Sparse and
dense retrievers fail on different questions, so fusing them is the field's standard hybrid.
"""
from __future__ import annotations

from design_space.components.retrieve.fusion import rrf
from design_space.components.retrieve.hits import Hits
from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.dense_index import DenseIndex


def _synced(table, key: str, make):
    index, seen = table.cache.get(key, (None, 0))
    if index is None:
        index = make()
    for n in range(seen, len(table)):
        index.add(table[n].text)
    for n in range(len(table)):
        if not table.alive[n] and index.alive[n]:
            index.remove(n)
    table.cache[key] = (index, len(table))
    return index


def _fuse(hits: Hits, other: list[tuple[int, float]], weight: float) -> Hits:
    fused = rrf([[d for d, _ in hits], [d for d, _ in other]], k=60.0, weights=[1.0, float(weight)])
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: max(1, len(hits))]


def fuse_dense(hits: Hits, text: str, query, table, index, embed, depth: int = 20, weight: float = 1.0) -> Hits:
    if not len(table):
        return hits
    dense = _synced(table, "fuse_dense", lambda: DenseIndex(embed))
    return _fuse(hits, dense.search(text, max(1, int(depth))), weight)


def fuse_bm25(hits: Hits, text: str, query, table, index, depth: int = 20, weight: float = 1.0) -> Hits:
    if not len(table):
        return hits
    sparse = _synced(table, "fuse_bm25", BM25Index)
    return _fuse(hits, sparse.search(text, max(1, int(depth))), weight)
