"""Conflict resolution: a newer fact about the same subject and attribute supersedes the older.

Mem0's update phase decides, for each new fact against the most similar stored ones,
ADD (new information), UPDATE (same key, new value, or richer text), DELETE (the new fact
negates a stored one) or NOOP (already known). `decide` is the rule-based decision;
`parse_decision` reads a model's reply in Mem0's format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from design_space.components.manage.dedupe import normalise

ADD, UPDATE, DELETE, NOOP = "ADD", "UPDATE", "DELETE", "NOOP"
EVENTS = (ADD, UPDATE, DELETE, NOOP)
_NEGATION = re.compile(r"\b(no longer|not anymore|doesn't|does not|don't|do not|never|stopped|quit|isn't|"
                       r"is not|aren't|moved away from|left)\b", re.I)


@dataclass(frozen=True)
class Decision:
    event: str
    target: int = -1  # index of the stored memory acted on (UPDATE / DELETE / NOOP)


def _words(text: str) -> set[str]:
    return set(normalise(text).split())


def decide(new_text: str, new_key: tuple | None, new_single: bool,
           existing: list[tuple[int, str, tuple | None]], similar_threshold: float = 0.8) -> Decision:
    """Rule-based Mem0 decision for one new fact against candidate stored facts (index, text, key)."""
    new_norm = normalise(new_text)
    new_words = _words(new_text)
    for idx, text, key in existing:
        if normalise(text) == new_norm:
            return Decision(NOOP, idx)
    for idx, text, key in existing:
        if new_key is not None and key == new_key and new_single:
            return Decision(UPDATE, idx)  # same subject and single-valued attribute: newer supersedes
    for idx, text, key in existing:
        if new_key is not None and key is not None and key != new_key:
            continue  # facts about different subjects or attributes never merge, however alike
        words = _words(text)
        overlap = len(words & new_words) / max(1, min(len(words), len(new_words)))
        if overlap >= similar_threshold:
            if bool(_NEGATION.search(new_text)) != bool(_NEGATION.search(text)):
                return Decision(DELETE, idx)
            if new_words <= words:
                return Decision(NOOP, idx)
            return Decision(UPDATE, idx)  # same fact, richer wording
    return Decision(ADD)


DECISION_PROMPT = ("You manage a memory of facts. Existing memories:\n{memories}\nNew fact: {fact}\n"
                   "Reply with one line: ADD, UPDATE <id>, DELETE <id> or NOOP <id>.")
_REPLY = re.compile(r"\b(ADD|UPDATE|DELETE|NOOP|NONE)\b(?:\s*(?:id\s*[:=]?\s*)?(\d+))?", re.I)


def parse_decision(reply: str | None, valid: set[int]) -> Decision | None:
    """A Decision from a model reply; None when it cannot be read (the caller uses `decide`)."""
    m = _REPLY.search(reply or "")
    if not m:
        return None
    event = m.group(1).upper().replace("NONE", NOOP)
    if event == ADD:
        return Decision(ADD)
    target = int(m.group(2)) if m.group(2) else -1
    return Decision(event, target) if target in valid else None
