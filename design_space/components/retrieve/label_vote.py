"""k-NN vote with distance weighting: recall only the examples of the answer the neighbourhood votes for.

An exemplar memory answers by its nearest experiences; a plain top-k mixes labels and lets
the reader weigh them. This step does what a weighted k-NN classifier does (Dudani 1976):
each of the `pool` nearest turns votes for its label (feedback's answer, `Turn.label`) with
weight ``max(similarity, 0) ** power`` (power 0: majority; large: the nearest one decides),
and only the winning label's turns are recalled, best first, as many as the hits given. The
voters are the first `pool` hits given (so a reranking step before it decides who votes),
topped up from the index when fewer hits were given.
Turns without labels (conversation tasks) leave the hits unchanged.
"""
from __future__ import annotations

from design_space.components.retrieve.hits import Hits


def label_weights(hits: Hits, text: str, table, index, pool: int = 8,
                  power: float = 6.0) -> tuple[Hits, dict[str, float]]:
    """The voters (labelled, alive; the first `pool` hits topped up from the index) and each
    label's weight, ``sum(max(similarity, 0) ** power)`` over its voters."""
    pool = max(1, int(pool))
    voters = list(hits[:pool])
    if len(voters) < pool:
        have = {d for d, _s in voters}
        voters += [(d, s) for d, s in index.search(text, pool) if d not in have][: pool - len(voters)]
    candidates = [(d, s) for d, s in voters if 0 <= d < len(table) and table.alive[d] and table[d].label]
    weights: dict[str, float] = {}
    for d, s in candidates:
        label = table[d].label
        weights[label] = weights.get(label, 0.0) + max(float(s), 0.0) ** max(0.0, float(power))
    return candidates, weights


def vote_labels(hits: Hits, text: str, query, table, index, pool: int = 8, power: float = 6.0) -> Hits:
    candidates, weights = label_weights(hits, text, table, index, pool, power)
    if not candidates:
        return hits
    best = max(weights, key=lambda lab: (weights[lab], -next(i for i, (d, _s) in enumerate(candidates)
                                                               if table[d].label == lab)))
    return [(d, s) for d, s in candidates if table[d].label == best][: max(1, len(hits))]
