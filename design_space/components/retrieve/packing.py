"""Token-budget packing: keep ranked items while they fit, skipping (not stopping at) ones too big.

The harness cuts a recall at the first item that overflows the budget, so a program that
packs itself — skipping an oversized item to fit a smaller one further down — returns
more evidence within the same budget. `share_budget` is the hits-slot step that spends only a
share of the budget: the knob that moves a program along the token axis in steps finer than a
whole turn (`TOP_K`'s step).
"""
from __future__ import annotations

from typing import Callable, Iterable

from design_space.contract import Recall, RecallItem


def pack(items: Iterable[RecallItem], budget: int, count_tokens: Callable[[str], int],
         max_items: int = 0, dedupe_sources: bool = True) -> Recall:
    kept: list[RecallItem] = []
    used = 0
    seen_text: set[str] = set()
    covered: set[str] = set()
    for item in items:
        if item.text in seen_text:
            continue
        if dedupe_sources and item.source_ids and covered.issuperset(item.source_ids):
            continue  # adds no new evidence
        n = count_tokens(item.text)
        if used + n > budget:
            continue
        kept.append(item)
        used += n
        seen_text.add(item.text)
        covered.update(item.source_ids)
        if max_items and len(kept) >= max_items:
            break
    return Recall(tuple(kept))


def truncate(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """Cut `text` to at most `budget` tokens on a word boundary."""
    if count_tokens(text) <= budget:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def share_budget(hits, text, query, table, index, count_tokens: Callable[[str], int], share: float = 0.9):
    """Keep the best hits whose turns fit in `share` of the question's token budget (packed like
    `pack`: a turn too big is skipped, not the end); the hits after this step pay for the rest."""
    limit = float(share) * query.budget_tokens
    kept, used, seen = [], 0, set()
    for n, score in hits:
        if n in seen or not (0 <= n < len(table)) or not table.alive[n]:
            continue
        size = count_tokens(table[n].text)
        if used + size > limit:
            continue
        kept.append((n, score))
        used += size
        seen.add(n)
    return kept
