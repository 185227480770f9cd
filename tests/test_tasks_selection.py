"""Splits and stratified subsets: disjoint, stratified, independent of input order."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from sandboxes.tasks import TaskError
from sandboxes.tasks.selection import split_keys, stratified

ITEMS = [(f"k{i}", "big" if i % 10 < 7 else ("mid" if i % 10 < 9 else "small")) for i in range(1000)]


def test_stratified_subset_is_proportional_and_keeps_small_categories():
    chosen = stratified(ITEMS, 50)
    cats = Counter(dict(ITEMS)[k] for k in chosen)
    assert len(chosen) == 50 and cats == {"big": 35, "mid": 10, "small": 5}
    tiny = stratified(ITEMS, 3)
    assert {dict(ITEMS)[k] for k in tiny} == {"big", "mid", "small"}
    shuffled = ITEMS[:]
    random.Random(1).shuffle(shuffled)
    assert stratified(shuffled, 50) == chosen
    assert stratified(ITEMS, 5000) == {k for k, _ in ITEMS}


def test_splits_partition_every_category():
    search, test = split_keys(ITEMS, "search", 0.3), split_keys(ITEMS, "test", 0.3)
    assert not search & test and len(search | test) == 1000 and len(test) == 300
    cats = Counter(dict(ITEMS)[k] for k in test)
    assert cats == {"big": 210, "mid": 60, "small": 30}
    assert split_keys(ITEMS[::-1], "test", 0.3) == test
    two = [("a", "c"), ("b", "c")]
    assert len(split_keys(two, "test", 0.01)) == 1 and len(split_keys(two, "search", 0.99)) == 1
    with pytest.raises(TaskError, match="split"):
        split_keys(ITEMS, "train", 0.3)
