"""ExpeL-style insights: rules distilled from feedback ("inputs that mention X are answered Y").

Follows ExpeL (Zhao et al., 2024), which keeps natural-language insights extracted from
successes and failures and recalls them for new tasks. Offline, an insight is a keyword
rule learned from feedback: for every content word and word pair of a solved input the
memory counts the answers it went with; a rule is active once it has ``MIN_SUPPORT``
examples and ``MIN_PRECISION`` agreement, and a query recalls the strongest rules its
words trigger, each shown with (and citing) the latest ``EXAMPLES`` examples behind it —
an item cites only events whose text it shows. ``DECAY`` < 1 lets old counts
fade so a rule can flip when the right answer drifts. With an LLM configured, every
``_LLM_EVERY``-th mistake the model writes an insight contrasting the wrong and the right
answer, recalled when the query shares its words. Simplified: no insight voting/editing
operations (ExpeL's ADD/EDIT/UPVOTE), counts stand in for them.
"""
from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.entities import tokens
from design_space.components.encode.llm_extract import ask
from design_space.components.retrieve.packing import pack

TOP_K = 6  # rules recalled
MIN_SUPPORT = 2.0  # (decayed) examples behind a rule
MIN_PRECISION = 0.5  # share of a word's examples that had the rule's answer
DECAY = 1.0  # per solved task; 1.0 never forgets
USE_PAIRS = True  # also learn rules on adjacent word pairs
EXAMPLES = 1  # latest examples shown (and cited) per rule
_LLM_EVERY = 10  # ask the model for an insight after this many mistakes (when a model is configured)
_LLM_INSIGHTS = 20  # at most this many model-written insights

_INSIGHT_PROMPT = ("An assistant answered '{wrong}' for the input \"{text}\", but the right answer was "
                  "'{right}'. Earlier, \"{other}\" was answered '{wrong}'. In one sentence, write a rule that "
                  "tells the two answers apart.")


@dataclass
class Solved:
    id: str
    text: str
    label: str


def features(text: str) -> list[str]:
    words = tokens(text)
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)] if USE_PAIRS else []
    return sorted(set(words + pairs))


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Each item is an insight learned from feedback on past inputs: which answer inputs with "
                    "these words had, and how reliably. Combine the insights the new input triggers.")

    def __init__(self, kit):
        super().__init__(kit)
        self.counts: dict[str, dict[str, float]] = {}
        self.sources: dict[tuple[str, str], deque] = {}
        self.scale = 1.0  # counts are stored multiplied by this, so decay costs nothing per step
        self.examples: dict[str, Solved] = {}  # latest solved input per answer (for model-written insights)
        self.written: list[tuple[str, frozenset, tuple[str, ...]]] = []
        self.last: tuple[str, str | None] = ("", None)  # (query text, what the recall voted for)
        self.mistakes = 0

    def encode(self, event: Event) -> list[Solved]:
        return [Solved(event.id, event.text, str(event.meta.get("label", "")))]

    def store(self, records: list[Solved]) -> None:
        for s in records:
            self.scale /= max(1e-6, float(DECAY))
            for f in features(s.text):
                row = self.counts.setdefault(f, {})
                row[s.label] = row.get(s.label, 0.0) + self.scale
                self.sources.setdefault((f, s.label), deque(maxlen=max(1, int(EXAMPLES)))).append((s.id, s.text))
            self.examples[s.label] = s
            if self.scale > 1e12:  # renormalise long before floats overflow
                for row in self.counts.values():
                    for k in row:
                        row[k] /= self.scale
                self.scale = 1.0

    def _rules(self, text: str) -> list[tuple[float, str, str, float, float]]:
        out = []
        for f in features(text):
            row = self.counts.get(f)
            if not row:
                continue
            total = sum(row.values())
            if total <= 0.0:  # faded to nothing under a strong decay
                continue
            label = max(row, key=row.get)
            support, precision = row[label] / self.scale, row[label] / total
            if support >= MIN_SUPPORT and precision >= MIN_PRECISION:
                out.append((precision * math.log1p(support), f, label, precision, support))
        return sorted(out, reverse=True)

    def retrieve(self, query: Query) -> Recall:
        rules = self._rules(query.text)[: max(1, int(TOP_K))]
        items = []
        for strength, f, label, precision, support in rules:
            shown = list(self.sources[(f, label)])
            examples = "; ".join(f'"{text}"' for _i, text in shown)
            items.append(RecallItem(f"Insight: inputs mentioning '{f}' were answered {label} "
                                    f"({precision:.0%} of {support:.0f}), e.g. {examples}",
                                    tuple(i for i, _t in shown), strength))
        words = set(tokens(query.text))
        for text, keys, ids in self.written:
            overlap = len(words & keys) / max(1, len(keys))
            if overlap > 0:
                items.append(RecallItem(f"Insight: {text}", ids, overlap))
        items.sort(key=lambda i: -i.score)
        votes: dict[str, float] = {}
        for rank, (_s, _f, label, _p, _n) in enumerate(rules):
            votes[label] = votes.get(label, 0.0) + 1.0 / (rank + 1)
        self.last = (query.text, max(votes, key=votes.get) if votes else None)
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        if signal.kind != "feedback" or self.kit.llm is None or len(self.written) >= int(_LLM_INSIGHTS):
            return
        text, guess = self.last
        right = str(signal.payload.get("label", ""))
        if guess is None or guess == right or guess not in self.examples:
            return
        self.mistakes += 1
        if self.mistakes % max(1, int(_LLM_EVERY)):
            return
        other = self.examples[guess]
        reply = ask(self.kit.llm, _INSIGHT_PROMPT.format(wrong=guess, text=text, right=right, other=other.text))
        if reply and reply.strip():
            # cite the example of the right answer: the insight argues for it
            cited = self.examples.get(right, other)
            rule = " ".join(reply.split()[:60])
            self.written.append((f'{rule} (e.g. "{cited.text}" was {cited.label})', frozenset(tokens(text)),
                                 (cited.id,)))
