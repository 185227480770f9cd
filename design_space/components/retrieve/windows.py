"""Window matching: match the question against each turn with the turns around it, show the turn alone.

In a conversation the words of a question are often in the turns around its evidence, not in
the evidence itself: "Did you finish it?" / "Yes, last Friday!" — the reply holds the answer,
the turn before it the topic. Sentence-window retrieval (index a unit with its surroundings,
return the unit) matches such replies. This step keeps a second BM25 index (Porter-stemmed)
whose document for turn *n* is the raw words of up to `before` earlier and `after` later turns
of its session around turn *n*'s own, searches it with the question, and ranks the hits and
the window matches by normalised score plus `weight` times the normalised window score. What a
hit shows is still its own turn, so the window costs no tokens.

The window index grows with the turn table: a turn is indexed once the `after` turns that
follow it exist; at a question, turns still waiting are indexed with the words there are and
indexed again (the earlier document dropped) once later turns arrive, so a streamed conversation
costs one document per turn plus at most `after` per question that follows new turns. A turn a
manage step removes is never recalled; its words stay in the windows of its neighbours.
"""
from __future__ import annotations

from design_space.components.retrieve.hits import Hits, normalised
from design_space.components.store.bm25_index import BM25Index


class _Windows:
    def __init__(self, before: int, after: int) -> None:
        self.before, self.after = before, after
        self.index = BM25Index(stem=True)
        self.turn_of: list[int] = []  # window document -> turn number
        self.done = 0  # turns below this are indexed with their whole window
        self.provisional: dict[int, int] = {}  # turn -> document indexed before its window was whole
        self.seen = 0  # turns in the table at the last update

    def _text(self, table, n: int) -> str:
        session = table[n].session
        words = []
        for m in range(max(0, n - self.before), min(len(table), n + self.after + 1)):
            if table[m].session == session and table.alive[m]:
                words.append(table[m].raw)
        return " ".join(words)

    def _add(self, table, n: int) -> int:
        doc = self.index.add(self._text(table, n))
        self.turn_of.append(n)
        return doc

    def update(self, table) -> None:
        if len(table) == self.seen:  # questions in a row: nothing to redo
            return
        self.seen = len(table)
        whole = max(self.done, len(table) - self.after)
        for n in range(self.done, whole):
            old = self.provisional.pop(n, None)
            if old is not None:
                self.index.remove(old)
            self._add(table, n)
        self.done = whole
        for n in range(self.done, len(table)):  # the last turns: what there is of their window, for now
            old = self.provisional.pop(n, None)
            if old is not None:
                self.index.remove(old)
            self.provisional[n] = self._add(table, n)


def match_windows(hits: Hits, text: str, query, table, index, before: int = 2, after: int = 1, pool: int = 30,
                  weight: float = 2.0) -> Hits:
    if not len(table):
        return hits
    before, after = max(0, int(before)), max(0, int(after))
    windows = table.cache.get("windows")
    if not isinstance(windows, _Windows) or (windows.before, windows.after) != (before, after):
        windows = table.cache["windows"] = _Windows(before, after)
    windows.update(table)
    found = [(windows.turn_of[d], s) for d, s in windows.index.search(text, max(len(hits), int(pool)))]
    found = [(n, s) for n, s in found if table.alive[n]]
    own, window = normalised(hits), normalised(found)
    scored = {n: own.get(n, 0.0) + float(weight) * window.get(n, 0.0) for n in set(own) | set(window)}
    order = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))
    return order[: max(1, len(hits))]
