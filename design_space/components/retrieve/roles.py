"""Role-aware retrieval: favour the turns of the party the question is about — the asker or the one asked.

In a chat between a person and an assistant, "How many plants did I buy?" is answered by
what the person said, and "You recommended a hotel in our last chat — which one?" by what
the assistant said. Both kinds of turn share the topic's words, but the other party's turns
are rarely the evidence, and an assistant's long replies spend a budget that several of the
person's short turns would fill. The asker is the speaker who opens most sessions; a question
that refers back to what "you" said, suggested or listed (or to "our previous chat") is about
the other party; one in the first person ("I", "my", "me") is about the asker. A question in
the third person ("What did Caroline research?") changes nothing: speaker and entity boosting
(`entity_boost.py`) covers named people.
"""
from __future__ import annotations

import re
from collections import Counter

from design_space.components.retrieve.hits import Hits, blend

_ADDRESSED = re.compile(
    r"\b(you|you've|you'd)\s+(?:\w+\s+){0,2}?(said|say|mentioned|mention|recommended|recommend|suggested|suggest|"
    r"told|tell|gave|give|provided|provide|listed|list|shared|share|explained|explain|described|describe|wrote|"
    r"write|named|proposed|offered)\b|\b(our|the|that)\s+(previous|last|earlier|past)\s+"
    r"(chat|conversation|discussion|talk|exchange)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|me|mine|myself)\b", re.I)


def asker(table) -> str:
    """The speaker who opens most sessions. The counts live in the table's cache and read only the
    turns added since the last call, so a growing memory is never re-read."""
    state = table.cache.get("roles:openers")
    if state is None:
        state = table.cache["roles:openers"] = {"read": 0, "sessions": set(), "openers": Counter()}
    for row in table.rows[state["read"]:]:
        if row.session not in state["sessions"]:
            state["sessions"].add(row.session)
            state["openers"][row.speaker] += 1
    state["read"] = len(table.rows)
    return state["openers"].most_common(1)[0][0] if state["openers"] else ""


def target(question: str) -> str:
    """'other' when the question is about what the one asked said, 'asker' when about the asker, else ''."""
    if _ADDRESSED.search(question):
        return "other"
    if _FIRST_PERSON.search(question):
        return "asker"
    return ""


def boost_roles(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.3) -> Hits:
    """Add `weight` to the normalised score of the hits (and of the index's next `pool`) said by the
    party the question is about."""
    aim = target(query.text)
    if not aim or not len(table):
        return hits
    who = asker(table)
    if not who:
        return hits
    candidates = index.search(text, max(len(hits), int(pool)))
    bonus = {}
    for d, _s in list(hits) + list(candidates):
        if not (0 <= d < len(table)):
            continue
        by_asker = table[d].speaker == who
        bonus[d] = 1.0 if by_asker == (aim == "asker") else 0.0
    return blend(hits, candidates, bonus, weight, len(hits))
