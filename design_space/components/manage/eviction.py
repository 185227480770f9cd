"""Capacity eviction: when a store holds more than its capacity, drop the lowest-valued items.

Value is whatever the program says (recency for LRU, importance, retention); ties go to
the older item. Returns what to evict so the caller can archive or summarise it first.
"""
from __future__ import annotations

from typing import Hashable, Mapping


def over_capacity(values: Mapping[Hashable, float], capacity: int, order: Mapping[Hashable, float] | None = None) -> list:
    """Keys to evict (lowest value first) so that `capacity` remain."""
    excess = len(values) - max(0, int(capacity))
    if excess <= 0:
        return []
    order = order or {}
    ranked = sorted(values, key=lambda k: (values[k], order.get(k, 0.0)))
    return ranked[:excess]


def lru(last_used: Mapping[Hashable, float], capacity: int) -> list:
    """Least recently used first."""
    return over_capacity(last_used, capacity)
