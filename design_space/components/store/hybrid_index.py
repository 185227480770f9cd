"""Hybrid sparse + dense index: BM25 and cosine rankings fused by reciprocal rank fusion."""
from __future__ import annotations

from design_space.components.retrieve.fusion import rrf
from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.dense_index import DenseIndex, EmbedFn


class HybridIndex:
    def __init__(self, embed: EmbedFn, k1: float = 1.2, b: float = 0.75, rrf_k: float = 60.0,
                 sparse_weight: float = 1.0, dense_weight: float = 1.0, depth: int = 50, stem: bool = False) -> None:
        self.sparse = BM25Index(k1, b, stem)
        self.dense = DenseIndex(embed)
        self.rrf_k, self.depth = float(rrf_k), int(depth)
        self.weights = (float(sparse_weight), float(dense_weight))

    def __len__(self) -> int:
        return len(self.sparse)

    def add(self, text: str) -> int:
        doc = self.sparse.add(text)
        self.dense.add(text)
        return doc

    def remove(self, doc: int) -> None:
        self.sparse.remove(doc)
        self.dense.remove(doc)

    def search(self, query: str, k: int = 10) -> list[tuple[int, float]]:
        sparse = [d for d, _ in self.sparse.search(query, self.depth)]
        dense = [d for d, _ in self.dense.search(query, self.depth)]
        fused = rrf([sparse, dense], k=self.rrf_k, weights=self.weights)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: max(1, int(k))]
