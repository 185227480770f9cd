"""Periodic reflection (Generative Agents): when recent importance adds up, write higher-level insights.

Park et al. reflect when the summed importance of recent memories passes a threshold (150):
the model asks the salient questions about recent memories and answers them with insights
that cite their evidence. Without a model, the rule-based reflection groups recent memories
by the entity they mention most and writes one insight per frequent entity, citing them.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from design_space.components.encode.entities import entities
from design_space.components.encode.llm_extract import LLM, ask, reply_lines


@dataclass
class Insight:
    text: str
    evidence: tuple[int, ...]  # indices into the memories reflected on


class ReflectionTrigger:
    """Accumulates importance; `due()` once the sum passes the threshold, then resets."""

    def __init__(self, threshold: float = 150.0) -> None:
        self.threshold = float(threshold)
        self.total = 0.0

    def add(self, importance: float) -> None:
        self.total += float(importance)

    def due(self) -> bool:
        if self.total >= self.threshold:
            self.total = 0.0
            return True
        return False


REFLECT_PROMPT = ("Statements:\n{statements}\nWhat {n} high-level insights can you infer from the above "
                  "statements? Write one per line, each ending with the statement numbers it rests on, "
                  "e.g. (because of 1, 5, 3).")


def reflect(llm: LLM, memories: list[str], n: int = 3, min_support: int = 2) -> list[Insight]:
    if not memories:
        return []
    numbered = "\n".join(f"{i + 1}. {m}" for i, m in enumerate(memories))
    reply = ask(llm, REFLECT_PROMPT.format(statements=numbered, n=n))
    if reply is not None:
        out = []
        for line in reply_lines(reply)[:n]:
            text, _, cites = line.partition("(because of")
            ev = tuple(int(x) - 1 for x in "".join(c if c.isdigit() else " " for c in cites).split()
                       if 0 < int(x) <= len(memories))
            out.append(Insight(text.strip(), ev))
        return out
    by_entity: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(memories):
        for e in entities(m):
            by_entity[e].append(i)
    counts = Counter({e: len(ix) for e, ix in by_entity.items() if len(ix) >= min_support})
    out = []
    for e, _ in counts.most_common(n):
        ix = by_entity[e][:4]  # an insight cites the memories it shows
        facts = "; ".join(memories[i].rstrip(".") for i in ix)
        out.append(Insight(f"About {e}: {facts}.", tuple(ix)))
    return out
