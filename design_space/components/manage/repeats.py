"""Manage step of a pipeline: at a session's end, drop turns that repeat an earlier turn.

Two turns whose content-word sets overlap by at least `overlap` (Jaccard) say the same thing;
keeping the first saves budget at recall time. Candidates are found through an inverted
index of content words kept in the turn table's cache, so the pass is incremental.
"""
from __future__ import annotations

from design_space.components.encode.entities import tokens


def drop_repeats(signal, table, index, overlap: float = 0.9) -> None:
    if signal.kind not in ("session_end", "task_end"):
        return None
    posting, seen = table.cache.get("repeats", ({}, 0))
    for n in range(seen, len(table)):
        words = set(tokens(table[n].raw))
        if not words:
            continue
        rare = min(words, key=lambda w: (len(posting.get(w, ())), w))  # ties by the word: the same in every process
        for m in posting.get(rare, ()):
            other = set(tokens(table[m].raw))
            if table.alive[m] and len(words & other) / len(words | other) >= float(overlap):
                table.remove(n)
                index.remove(n)
                break
        else:
            for w in words:
                posting.setdefault(w, []).append(n)
    table.cache["repeats"] = (posting, len(table))
    return None
