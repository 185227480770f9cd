"""MemGPT-style tiers: core blocks always in context, a bounded recall queue, searchable archival.

Core memory is a few named text blocks with a size limit (the agent's persona and what it
knows about the user). Recall memory is the recent message queue; when it exceeds its
token capacity the oldest part is evicted (MemGPT flushes ~half the queue) into archival
memory, which is searched on demand. Evicted items are returned so the caller can write a
recursive summary of them.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from design_space.components.encode.entities import tokens
from design_space.components.store.hybrid_index import HybridIndex


@dataclass
class TierItem:
    text: str
    source_ids: tuple[str, ...]
    time: float = 0.0
    tokens: int = 0
    meta: dict = field(default_factory=dict)


class CoreMemory:
    """Named blocks with a character limit each; writes beyond the limit drop the oldest lines."""

    def __init__(self, limit_chars: int = 600, blocks: tuple[str, ...] = ("persona", "human")) -> None:
        self.limit = int(limit_chars)
        self.blocks: dict[str, list[tuple[str, tuple[str, ...]]]] = {b: [] for b in blocks}

    def append(self, block: str, line: str, source_ids: tuple[str, ...] = ()) -> None:
        lines = self.blocks.setdefault(block, [])
        lines.append((line, tuple(source_ids)))
        while len(lines) > 1 and sum(len(t) + 1 for t, _ in lines) > self.limit:
            lines.pop(0)

    def replace(self, block: str, old: str, new: str) -> bool:
        """core_memory_replace: swap the first line containing `old`; False when absent."""
        for i, (text, ids) in enumerate(self.blocks.get(block, [])):
            if old in text:
                self.blocks[block][i] = (text.replace(old, new), ids)
                return True
        return False

    def items(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return [(b, t, ids) for b, lines in self.blocks.items() for t, ids in lines]


class TieredStore:
    def __init__(self, embed: Callable, recall_tokens: int = 2000, flush_fraction: float = 0.5) -> None:
        self.core = CoreMemory()
        self.recall: deque[TierItem] = deque()
        self.recall_tokens = int(recall_tokens)
        self.flush_fraction = min(1.0, max(0.05, float(flush_fraction)))
        self.archival = HybridIndex(embed)
        self.archived: list[TierItem] = []
        self._used = 0

    def append(self, item: TierItem) -> list[TierItem]:
        """Add to recall memory; returns the items evicted to archival (oldest first)."""
        self.recall.append(item)
        self._used += item.tokens
        if self._used <= self.recall_tokens:
            return []
        evicted = []
        target = self.recall_tokens * (1.0 - self.flush_fraction)
        while self.recall and self._used > target:
            old = self.recall.popleft()
            self._used -= old.tokens
            self.archive(old)
            evicted.append(old)
        return evicted

    def archive(self, item: TierItem) -> int:
        """archival_memory_insert."""
        self.archived.append(item)
        return self.archival.add(item.text)

    def search_archival(self, query: str, k: int = 5) -> list[tuple[TierItem, float]]:
        """archival_memory_search."""
        return [(self.archived[d], s) for d, s in self.archival.search(query, k)]

    def search_recall(self, query_terms: set[str], k: int = 5) -> list[TierItem]:
        """conversation_search: recall-queue items sharing the most words with the query."""
        scored = []
        for i, item in enumerate(self.recall):
            overlap = len(query_terms.intersection(tokens(item.text)))
            if overlap:
                scored.append((overlap, i, item))
        scored.sort(key=lambda x: (-x[0], -x[1]))
        return [it for _, _, it in scored[:k]]
