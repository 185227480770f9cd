"""Deterministic splits and stratified subsets of a task's questions or conversations.

A campaign optimises on the ``search`` split and reports on ``test``, so the two must never
overlap and must not move between runs. Both are computed from a keyed hash of the item's
stable id (never Python's salted ``hash``), ranked within each category, so they are
stratified, independent of the job seed and of the order the data file lists items in.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Hashable, Iterable, Sequence

from sandboxes.tasks.base import TaskError

SPLITS = ("search", "test", "all")


def rank_key(key: str, salt: str = "") -> str:
    return hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=12).hexdigest()


def _quotas(sizes: dict[Hashable, int], n: int) -> dict[Hashable, int]:
    """Largest-remainder allocation of n over strata, then at least one per stratum while n allows."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    exact = {c: n * s / total for c, s in sizes.items()}
    quota = {c: int(v) for c, v in exact.items()}
    for c in sorted(exact, key=lambda c: (-(exact[c] - int(exact[c])), str(c)))[: n - sum(quota.values())]:
        quota[c] += 1
    # Every category is seen even in a small subset (a category absent from the cheap
    # fidelity would be invisible to the cascade): take from the largest quota to fill it.
    for c in sorted(sizes, key=lambda c: (-sizes[c], str(c))):
        donor = max(quota, key=lambda d: (quota[d], str(d)))
        if quota[c] == 0 and quota[donor] > 1:
            quota[donor] -= 1
            quota[c] = 1
    return quota


def stratified(items: Iterable[tuple[str, Hashable]], n: int, salt: str = "subset") -> set[str]:
    """Pick n keys from (key, category) pairs, proportional per category, by hash rank."""
    by_cat: dict[Hashable, list[str]] = defaultdict(list)
    for key, cat in items:
        by_cat[cat].append(key)
    quota = _quotas({c: len(v) for c, v in by_cat.items()}, max(0, n))
    chosen: set[str] = set()
    for cat, keys in by_cat.items():
        chosen.update(sorted(keys, key=lambda k: rank_key(k, salt))[: quota[cat]])
    return chosen


def split_keys(items: Sequence[tuple[str, Hashable]], split: str, test_fraction: float) -> set[str]:
    """Keys in the requested split: per category, the lowest-ranked share is ``test``."""
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r} (use search, test or all)")
    keys = {k for k, _ in items}
    if split == "all":
        return keys
    by_cat: dict[Hashable, list[str]] = defaultdict(list)
    for key, cat in items:
        by_cat[cat].append(key)
    test: set[str] = set()
    for cat, ks in by_cat.items():
        ranked = sorted(ks, key=lambda k: rank_key(k, "split"))
        # At least one test item per category when there are two or more, so both sides see it.
        m = round(len(ranked) * test_fraction)
        if len(ranked) >= 2:
            m = min(max(m, 1), len(ranked) - 1)
        test.update(ranked[:m])
    return test if split == "test" else keys - test


def first_ranked(keys: Iterable[str], n: int, salt: str) -> list[str]:
    return sorted(keys, key=lambda k: rank_key(k, salt))[: max(0, n)]
