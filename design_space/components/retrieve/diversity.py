"""Session diversity: spread the recalled turns over the sessions that match, not one session's neighbours.

A question about several occasions ("How many trips did I take this spring?") has its evidence
in several sessions, while a similarity ranking fills the budget with the best session's many
similar turns. Greedy re-ranking in the spirit of maximal marginal relevance (Carbonell &
Goldstein, 1998) with the session as the redundancy unit: each pick's score is its normalised
relevance times `decay` to the power of how many turns of its session are already picked.
`decay` 1 keeps the ranking; lower spreads more.
"""
from __future__ import annotations

from design_space.components.retrieve.hits import Hits, normalised


def spread_sessions(hits: Hits, text: str, query, table, index, pool: int = 30, decay: float = 0.7) -> Hits:
    keep = len(hits)
    if not keep:
        return hits
    relevance = normalised(index.search(text, max(keep, int(pool))))
    for d, s in normalised(hits).items():
        relevance[d] = max(relevance.get(d, 0.0), s)
    relevance = {d: s for d, s in relevance.items() if 0 <= d < len(table) and table.alive[d]}
    decay = min(1.0, max(0.0, float(decay)))
    taken: dict[str, int] = {}
    out: Hits = []
    while relevance and len(out) < keep:
        d, s = max(relevance.items(), key=lambda kv: (kv[1] * decay ** taken.get(table[kv[0]].session, 0), -kv[0]))
        session = table[d].session
        out.append((d, s * decay ** taken.get(session, 0)))
        taken[session] = taken.get(session, 0) + 1
        del relevance[d]
    return out
