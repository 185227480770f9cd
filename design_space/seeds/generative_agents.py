"""Generative Agents: a memory stream scored by recency x importance x relevance, with reflections.

Follows Park et al. (UIST 2023): every observation enters the memory stream with its
creation time, last-access time and an importance (poignancy) rating from 1 to 10 (asked
of the LLM when one is configured, else a rule-based guess). Retrieval scores each memory
by a_rec * recency + a_imp * importance + a_rel * relevance (each min-max normalised;
recency decays by 0.995 per hour since last access; relevance is embedding cosine) and
refreshes the access time of what it returns. When the summed importance of new
observations passes a threshold (150 in the paper), the agent reflects: it writes
insights about recent memories that cite them, and they enter the stream as memories.
Simplified: no planning; reflection questions are folded into one prompt; the rule-based
reflection writes one insight per frequently mentioned entity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.encode.llm_extract import ask
from design_space.components.manage.reflection import ReflectionTrigger, reflect
from design_space.components.retrieve.packing import pack
from design_space.components.retrieve.scorers import (
    IMPORTANCE_PROMPT, combine, parse_rating, recency, rule_importance)
from design_space.components.store.dense_index import DenseIndex

TOP_K = 8
W_RECENCY = 1.0
W_IMPORTANCE = 1.0
W_RELEVANCE = 1.0
DECAY_PER_HOUR = 0.995
REFLECT_THRESHOLD = 150.0
_RECENT_FOR_REFLECTION = 100  # how many latest memories a reflection reads


@dataclass
class Observation:
    text: str
    source_ids: tuple[str, ...]
    created: float
    importance: float
    last_access: float = 0.0
    kind: str = "observation"  # or "reflection"


class Memory(MemoryProgram):
    INSTRUCTIONS = "Observations and reflections from the memory stream, most useful first."

    def __init__(self, kit):
        super().__init__(kit)
        self.stream: list[Observation] = []
        self.index = DenseIndex(kit.embed)
        self.trigger = ReflectionTrigger(REFLECT_THRESHOLD)
        self.clock = 0.0

    def _importance(self, text: str) -> float:
        fallback = rule_importance(text)
        if self.kit.llm is None:
            return fallback
        return parse_rating(ask(self.kit.llm, IMPORTANCE_PROMPT.format(text=text)), fallback)

    def encode(self, event: Event) -> list[Observation]:
        self.clock = max(self.clock, event.time)
        text = annotate(event)
        return [Observation(text, (event.id,), event.time, self._importance(event.text), event.time)]

    def store(self, records: list[Observation]) -> None:
        for obs in records:
            self.stream.append(obs)
            self.index.add(obs.text)
            if obs.kind == "observation":
                self.trigger.add(obs.importance)
        if self.trigger.due():
            self._reflect()

    def _reflect(self) -> None:
        recent = [o for o in self.stream[-int(_RECENT_FOR_REFLECTION):] if o.kind == "observation"]
        for insight in reflect(self.kit.llm, [o.text for o in recent]):
            ids = tuple(dict.fromkeys(i for e in insight.evidence for i in recent[e].source_ids))
            if ids and insight.text:
                self.stream.append(Observation(insight.text, ids, self.clock, 8.0, self.clock, "reflection"))
                self.index.add(insight.text)

    def retrieve(self, query: Query) -> Recall:
        if not self.stream:
            return Recall(())
        now = max(self.clock, query.time)
        relevance = self.index.similarities(query.text)
        relevance = np.where(np.isfinite(relevance), relevance, -1.0)
        rec = recency(now, np.array([o.last_access for o in self.stream]), DECAY_PER_HOUR)
        imp = np.array([o.importance for o in self.stream])
        scores = combine(rec, imp, relevance, (W_RECENCY, W_IMPORTANCE, W_RELEVANCE))
        k = min(max(1, int(TOP_K)), len(scores))
        best = np.argsort(-scores, kind="stable")[:k]
        items = [RecallItem(self.stream[i].text, self.stream[i].source_ids, float(scores[i])) for i in best]
        recall = pack(items, query.budget_tokens, self.kit.count_tokens)
        returned = {item.text for item in recall.items}
        for i in best:
            if self.stream[i].text in returned:
                self.stream[i].last_access = now
        return recall

    def manage(self, signal: Signal) -> None:
        self.clock = max(self.clock, signal.time)
        if signal.kind == "task_end" and self.trigger.total > 0:
            self._reflect()
