"""Personalised PageRank by power iteration over a networkx graph (HippoRAG's retrieval step).

The graph is converted once to index arrays, cached on the graph itself and rebuilt when its
size or its ``graph.graph["version"]`` counter changes (bump it when editing edge weights),
so many queries over a graph that has stopped growing cost a few numpy passes each.
"""
from __future__ import annotations

from typing import Hashable, Mapping

import networkx as nx
import numpy as np


def _arrays(graph: nx.Graph):
    sig = (graph.number_of_nodes(), graph.number_of_edges(), graph.graph.get("version", 0))
    cached = graph.graph.get("_ppr_arrays")
    if cached and cached[0] == sig:
        return cached[1:]
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    src, dst, w = [], [], []
    for a, b, data in graph.edges(data=True):
        weight = float(data.get("weight", 1.0))
        src += [index[a], index[b]]
        dst += [index[b], index[a]]
        w += [weight, weight]
    src_a, dst_a, w_a = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), np.asarray(w)
    out_w = np.bincount(src_a, weights=w_a, minlength=len(nodes)) if len(src) else np.zeros(len(nodes))
    graph.graph["_ppr_arrays"] = (sig, nodes, index, src_a, dst_a, w_a, out_w)
    return nodes, index, src_a, dst_a, w_a, out_w


def personalised_pagerank(graph: nx.Graph, personalisation: Mapping[Hashable, float], damping: float = 0.5,
                          iters: int = 30, tol: float = 1e-8) -> dict[Hashable, float]:
    """Stationary scores of a walk that restarts at the personalisation nodes with prob 1 - damping."""
    nodes, index, src, dst, w, out_w = _arrays(graph)
    n = len(nodes)
    if n == 0:
        return {}
    p = np.zeros(n)
    for node, v in personalisation.items():
        if node in index:
            p[index[node]] += float(v)
    if p.sum() <= 0:
        return {}
    p /= p.sum()
    share = np.where(out_w[src] > 0, w / np.where(out_w[src] > 0, out_w[src], 1.0), 0.0)
    dangling = out_w == 0
    r = p.copy()
    for _ in range(int(iters)):
        flow = np.bincount(dst, weights=r[src] * share, minlength=n) if len(src) else np.zeros(n)
        new = damping * (flow + r[dangling].sum() * p) + (1 - damping) * p
        if np.abs(new - r).sum() < tol:
            r = new
            break
        r = new
    return {nodes[i]: float(r[i]) for i in np.nonzero(r)[0]}
