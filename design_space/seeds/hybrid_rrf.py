"""Hybrid RAG: BM25 and dense rankings of turns fused by reciprocal rank fusion, then MMR.

Follows the hybrid sparse+dense retrievers common in RAG stacks (e.g. Elasticsearch /
Weaviate hybrid search with RRF, Cormack et al. 2009), with maximal marginal relevance to
avoid near-duplicate turns. Simplified: fixed fusion depth, no learned re-ranker.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.retrieve.mmr import mmr
from design_space.components.retrieve.packing import pack
from design_space.components.store.hybrid_index import HybridIndex

TOP_K = 10
RRF_K = 60.0
SPARSE_WEIGHT = 1.0
DENSE_WEIGHT = 1.0
MMR_LAMBDA = 0.8  # 1.0 turns diversity off


@dataclass
class Doc:
    id: str
    text: str


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns matched the question by keywords and meaning, best first."

    def __init__(self, kit):
        super().__init__(kit)
        self.docs: list[Doc] = []
        self.index = HybridIndex(kit.embed, rrf_k=RRF_K, sparse_weight=SPARSE_WEIGHT, dense_weight=DENSE_WEIGHT)

    def encode(self, event: Event) -> list[Doc]:
        return [Doc(event.id, annotate(event))]

    def store(self, records: list[Doc]) -> None:
        for doc in records:
            self.docs.append(doc)
            self.index.add(doc.text)

    def retrieve(self, query: Query) -> Recall:
        k = max(1, int(TOP_K))
        hits = self.index.search(query.text, 3 * k)
        if not hits:
            return Recall(())
        docs = [d for d, _ in hits]
        if MMR_LAMBDA < 1.0:
            vecs = self.index.dense.vectors()[docs]
            order = mmr(np.array([s for _, s in hits]) / max(hits[0][1], 1e-12), vecs, k, float(MMR_LAMBDA))
            hits = [hits[i] for i in order]
        items = [RecallItem(self.docs[d].text, (self.docs[d].id,), s) for d, s in hits[:k]]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
