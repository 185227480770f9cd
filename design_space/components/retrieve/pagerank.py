"""Personalised PageRank by power iteration over a networkx graph (HippoRAG's retrieval step).

The graph is converted once to index arrays, cached on the graph itself and rebuilt when it
changes. A graph that keeps a ``graph.graph["version"]`` counter (bumped on every edit) is
checked in O(1); otherwise the node and edge counts are compared (networkx counts edges in
O(n), and in-place weight edits go unnoticed). Many queries over a graph that has stopped
growing then cost a few numpy passes each.
"""
from __future__ import annotations

from typing import Hashable, Mapping

import networkx as nx
import numpy as np


def graph_arrays(graph: nx.Graph) -> tuple[list, dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(nodes, node -> index, src, dst, transition share per edge, dangling mask), cached."""
    version = graph.graph.get("version")
    sig = ("v", version) if version is not None else (graph.number_of_nodes(), graph.number_of_edges())
    cached = graph.graph.get("_ppr_arrays")
    if cached and cached[0] == sig:
        return cached[1]
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    m = graph.number_of_edges()
    src = np.empty(2 * m, dtype=np.int64)
    dst = np.empty(2 * m, dtype=np.int64)
    w = np.empty(2 * m)
    for e, (a, b, weight) in enumerate(graph.edges(data="weight", default=1.0)):
        ia, ib = index[a], index[b]
        src[2 * e], dst[2 * e], src[2 * e + 1], dst[2 * e + 1] = ia, ib, ib, ia
        w[2 * e] = w[2 * e + 1] = weight
    out_w = np.bincount(src, weights=w, minlength=len(nodes)) if m else np.zeros(len(nodes))
    share = w / np.where(out_w[src] > 0, out_w[src], 1.0) if m else w
    arrays = (nodes, index, src, dst, share, out_w == 0)
    graph.graph["_ppr_arrays"] = (sig, arrays)
    return arrays


def ppr_vector(graph: nx.Graph, personalisation: Mapping[Hashable, float], damping: float = 0.5,
               iters: int = 30, tol: float = 1e-5) -> np.ndarray:
    """PPR scores as an array aligned with ``graph_arrays(graph)[0]`` (zeros when no seed is in the graph)."""
    nodes, index, src, dst, share, dangling = graph_arrays(graph)
    n = len(nodes)
    p = np.zeros(n)
    for node, v in personalisation.items():
        if node in index:
            p[index[node]] += float(v)
    if n == 0 or p.sum() <= 0:
        return np.zeros(n)
    p /= p.sum()
    r = p.copy()
    for _ in range(int(iters)):
        flow = np.bincount(dst, weights=r[src] * share, minlength=n) if len(src) else np.zeros(n)
        new = damping * (flow + r[dangling].sum() * p) + (1 - damping) * p
        done = np.abs(new - r).sum() < tol
        r = new
        if done:
            break
    return r


def personalised_pagerank(graph: nx.Graph, personalisation: Mapping[Hashable, float], damping: float = 0.5,
                          iters: int = 30, tol: float = 1e-6) -> dict[Hashable, float]:
    """Stationary scores of a walk that restarts at the personalisation nodes with prob 1 - damping."""
    r = ppr_vector(graph, personalisation, damping, iters, tol)
    nodes = graph_arrays(graph)[0]
    return {nodes[i]: float(r[i]) for i in np.nonzero(r)[0]}
