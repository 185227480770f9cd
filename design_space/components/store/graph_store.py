"""An entity graph over passages (networkx): passages link to the entities they mention.

HippoRAG's knowledge graph in small: passage nodes ``("p", i)`` and entity nodes
``("e", name)``; a passage-entity edge per mention, an entity-entity edge per extracted
relation (subject - object), and a synonym edge between two entities whose names embed
alike (HippoRAG 2), weighted by their similarity. Retrieval seeds personalised PageRank at
the query's entities (and, as HippoRAG 2 does, lightly at the passages themselves) and reads
off passage nodes, so evidence two hops away (A -> B, B -> C) is reachable.
"""
from __future__ import annotations

import networkx as nx

import numpy as np

from design_space.components.retrieve.pagerank import graph_arrays, ppr_vector


class EntityGraph:
    def __init__(self) -> None:
        self.graph = nx.Graph()
        self.passages: int = 0
        self._entity_df: dict[str, int] = {}

    def add_passage(self, entities: list[str], relations: list[tuple[str, str]] = ()) -> int:
        pid = self.passages
        self.passages += 1
        node = ("p", pid)
        self.graph.add_node(node)
        for e in dict.fromkeys(x.lower() for x in entities):
            self.graph.add_edge(node, ("e", e), weight=1.0)
            self._entity_df[e] = self._entity_df.get(e, 0) + 1
        for a, b in relations:
            a, b = a.lower(), b.lower()
            if a != b:
                w = self.graph.get_edge_data(("e", a), ("e", b), {"weight": 0.0})["weight"]
                self.graph.add_edge(("e", a), ("e", b), weight=w + 1.0)
        self.graph.graph["version"] = self.graph.graph.get("version", 0) + 1
        return pid

    def add_synonym(self, a: str, b: str, similarity: float) -> None:
        a, b = a.lower(), b.lower()
        if a != b and not self.graph.has_edge(("e", a), ("e", b)):
            self.graph.add_edge(("e", a), ("e", b), weight=float(similarity), synonym=True)
            self.graph.graph["version"] = self.graph.graph.get("version", 0) + 1

    def has_entity(self, name: str) -> bool:
        return ("e", name.lower()) in self.graph

    def specificity(self, name: str) -> float:
        """1 / number of passages mentioning the entity (HippoRAG's node specificity)."""
        return 1.0 / max(1, self._entity_df.get(name.lower(), 0))

    def neighbours(self, pid: int) -> list[str]:
        return [n[1] for n in self.graph.neighbors(("p", pid)) if n[0] == "e"]

    def rank_passages(self, seeds: dict[str, float], damping: float = 0.5, iters: int = 30,
                      k: int = 0, passage_seeds: dict[int, float] | None = None) -> list[tuple[int, float]]:
        """Personalised PageRank from the seed entities (and passages): (passage, score) best first."""
        personal = {("e", s.lower()): v for s, v in seeds.items() if ("e", s.lower()) in self.graph and v > 0}
        for pid, v in (passage_seeds or {}).items():
            if v > 0 and ("p", pid) in self.graph:
                personal[("p", pid)] = personal.get(("p", pid), 0.0) + v
        if not personal:
            return []
        r = ppr_vector(self.graph, personal, damping=damping, iters=iters)
        rows, pids = self._passage_rows()
        scores = r[rows]
        order = np.nonzero(scores > 0)[0]
        if k and len(order) > k:
            order = order[np.argpartition(-scores[order], k - 1)[:k]]
        order = order[np.lexsort((pids[order], -scores[order]))]
        return [(int(pids[i]), float(scores[i])) for i in order]

    def _passage_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the PPR vector that are passages, and their passage ids (cached with the arrays)."""
        nodes = graph_arrays(self.graph)[0]
        cached = self.graph.graph.get("_passage_rows")
        if cached is None or cached[0] is not nodes:
            rows = [i for i, n in enumerate(nodes) if n[0] == "p"]
            cached = (nodes, np.asarray(rows, dtype=np.int64), np.asarray([nodes[i][1] for i in rows]))
            self.graph.graph["_passage_rows"] = cached
        return cached[1], cached[2]
