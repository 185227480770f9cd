"""GEPA-style instance coverage, kept incrementally: the best score on each task item and who holds it.

A candidate's weight for selection is the number of items on which it is best (ties share the
win), so specialists that a scalar mean would drop keep getting children. Only the best score per
item and its holders are kept — never every candidate's per-item results — and an item tied by
more than `MAX_HOLDERS` candidates stops counting (it no longer tells specialists apart), which
bounds memory by items × MAX_HOLDERS whatever the archive's size.
"""
from __future__ import annotations

import random

MAX_HOLDERS = 64


class CoverageIndex:
    def __init__(self) -> None:
        self.best: dict[str, float] = {}
        self.holders: dict[str, set[str] | None] = {}  # None: saturated by ties
        self.wins: dict[str, int] = {}

    def _credit(self, cid: str, delta: int) -> None:
        w = self.wins.get(cid, 0) + delta
        if w > 0:
            self.wins[cid] = w
        else:
            self.wins.pop(cid, None)

    def add(self, cid: str, per_item: dict[str, float]) -> None:
        for item, score in per_item.items():
            best = self.best.get(item)
            if best is None or score > best:
                for h in self.holders.get(item) or ():
                    self._credit(h, -1)
                self.best[item] = score
                self.holders[item] = {cid} if score > 0 else set()
                if score > 0:
                    self._credit(cid, 1)
            elif score == best and score > 0:
                holders = self.holders[item]
                if holders is None:
                    continue
                if len(holders) >= MAX_HOLDERS:
                    for h in holders:
                        self._credit(h, -1)
                    self.holders[item] = None
                    continue
                holders.add(cid)
                self._credit(cid, 1)

    def pick(self, k: int, rng: random.Random) -> list[str]:
        """k candidates drawn with weights = items won; [] while no item has a winner."""
        if not self.wins:
            return []
        ids = sorted(self.wins)
        return rng.choices(ids, weights=[self.wins[i] for i in ids], k=k)
