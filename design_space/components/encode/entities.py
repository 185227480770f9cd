"""Rule-based entity and keyword extraction: capitalised names and content words, no model.

Good enough to key a graph or a note on the people, places and things a conversation
mentions; an LLM extractor can replace it when one is configured.
"""
from __future__ import annotations

import functools
import re
from collections import Counter

STOPWORDS = frozenset(
    "a an the and or but of to in on at for with from by as is are was were be been being am it its this that "
    "these those i you he she they we me him her them us my your his their our mine yours do does did done "
    "doing have has had having what which who whom whose when where why how not no yes so very just about "
    "into over after before then than there here too also can could would should will shall may might must "
    "up down out off again once all any both each few more most other some such only own same s t don now "
    "oh ok okay yeah hey hi hello thanks thank really like get got go going went lot much many".split())
QUESTION_WORDS = frozenset("what which who whom whose when where why how does did do is are was were".split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_CAP = re.compile(r"\b([A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-]+)*)")
_POSSESSIVE = re.compile(r"'s$")


def tokens(text: str) -> list[str]:
    """Lower-cased content words (stop-words dropped, possessives stripped)."""
    return list(_tokens(text))


@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    # Memoised: retrieval steps (feedback, reranking, boosting) tokenise the same turns on every query.
    out = []
    for w in _WORD.findall(text.lower()):
        if w.endswith("'s"):
            w = w[:-2]
        if w not in STOPWORDS:
            out.append(w)
    return tuple(out)


def entities(text: str) -> list[str]:
    """Capitalised spans that are not merely sentence-initial function words, in order, deduplicated."""
    return list(_entities(text))


@functools.lru_cache(maxsize=8192)
def _entities(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for m in _CAP.finditer(text):
        span = _POSSESSIVE.sub("", m.group(1))
        words = span.split()
        while words and (words[0].lower() in STOPWORDS or words[0].lower() in QUESTION_WORDS):
            words.pop(0)  # sentence-initial "The", "What", "My": not part of the name
        if not words or (len(words) == 1 and words[0].lower() in STOPWORDS):
            continue
        seen.setdefault(" ".join(words), None)
    return tuple(seen)


def keywords(text: str, k: int = 5) -> list[str]:
    """Up to `k` content words, most frequent first, then longest (rarer words tend to be longer)."""
    counts = Counter(tokens(text))
    ranked = sorted(counts, key=lambda w: (-counts[w], -len(w), w))
    return ranked[: max(0, int(k))]


def mentions(text: str) -> list[str]:
    """Entities plus content words, lower-cased: the node names a graph store links on."""
    out: dict[str, None] = {}
    for e in entities(text):
        out.setdefault(e.lower(), None)
    for w in tokens(text):
        if len(w) > 2:
            out.setdefault(w, None)
    return list(out)
