"""Mem0: extract salient facts from each message, then ADD / UPDATE / DELETE / NOOP against memory.

Follows Mem0 (Chhikara et al., 2025): an extraction phase turns each new message into
candidate facts (the LLM when one is configured; otherwise rule-based triples rendered as
sentences, and, as a fallback, the message itself when no rule matches); an update phase
compares each fact with the most similar stored memories and picks ADD (new), UPDATE
(same subject and attribute with a new value — the newer fact supersedes — or a richer
wording), DELETE (contradicted) or NOOP (already known), by LLM tool call or by rules.
Retrieval is vector search over the fact memories. Simplified: no graph variant (Mem0g),
no conversation summary in the extraction prompt, facts are processed in batches at the
next retrieval or boundary so that embedding calls are batched.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.entities import tokens
from design_space.components.encode.facts import extract_facts
from design_space.components.encode.llm_extract import FACT_PROMPT, ask, reply_lines
from design_space.components.manage.conflict import (
    ADD, DECISION_PROMPT, DELETE, NOOP, UPDATE, decide, parse_decision)
from design_space.components.retrieve.packing import pack
from design_space.components.store.dense_index import DenseIndex

TOP_K = 8
SIMILAR_K = 5  # stored memories each new fact is compared against
KEEP_UNMATCHED = True  # without an LLM, keep a message no fact rule matches as a memory of its own
MIN_CONTENT_WORDS = 3  # shorter unmatched messages (chit-chat, "Good to know.") are not memories
OVERLAP_THRESHOLD = 0.8


@dataclass
class Candidate:
    text: str
    key: tuple | None
    single: bool
    source_ids: tuple[str, ...]
    time: float


@dataclass
class Fact:
    text: str
    key: tuple | None
    source_ids: tuple[str, ...]
    time: float


class Memory(MemoryProgram):
    INSTRUCTIONS = "Facts remembered about the user and their world; newer facts replace older ones."

    def __init__(self, kit):
        super().__init__(kit)
        self.facts: list[Fact | None] = []
        self.index = DenseIndex(kit.embed)
        self.pending: list[Candidate] = []
        self.history: list[tuple[str, int]] = []  # (event, memory index): Mem0's change log

    def encode(self, event: Event) -> list[Candidate]:
        ids = (event.id,)
        reply = ask(self.kit.llm, FACT_PROMPT.format(speaker=event.speaker or "user", text=event.text))
        if reply is not None:
            return [Candidate(t, None, False, ids, event.time) for t in reply_lines(reply)]
        facts = extract_facts(event.text, event.speaker)  # no model, or its call budget is spent
        if facts:
            return [Candidate(f.render(), f.key, f.single, ids, event.time) for f in facts]
        if KEEP_UNMATCHED and len(tokens(event.text)) >= int(MIN_CONTENT_WORDS):
            speaker = f"{event.speaker}: " if event.speaker else ""
            return [Candidate(speaker + event.text, None, False, ids, event.time)]
        return []

    def store(self, records: list[Candidate]) -> None:
        self.pending.extend(records)

    def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        vecs = np.asarray(self.kit.embed([c.text for c in batch]), dtype=np.float32)
        for cand, vec in zip(batch, vecs):
            self._update(cand, vec)

    def _similar(self, cand: Candidate, vec: np.ndarray) -> list[tuple[int, str, tuple | None]]:
        out: dict[int, None] = {}
        if cand.key is not None:  # same subject and attribute, however worded
            for i, f in enumerate(self.facts):
                if f is not None and f.key == cand.key:
                    out[i] = None
        for d, _ in self.index.search(vec, int(SIMILAR_K)) if len(self.index) else []:
            out.setdefault(d, None)
        return [(i, self.facts[i].text, self.facts[i].key) for i in out if self.facts[i] is not None]

    def _update(self, cand: Candidate, vec: np.ndarray) -> None:
        similar = self._similar(cand, vec)
        decision = None
        if self.kit.llm is not None and similar:
            memories = "\n".join(f"{i}: {t}" for i, t, _ in similar)
            decision = parse_decision(ask(self.kit.llm, DECISION_PROMPT.format(memories=memories, fact=cand.text)),
                                      {i for i, _, _ in similar})
        if decision is None:
            decision = decide(cand.text, cand.key, cand.single, similar, float(OVERLAP_THRESHOLD))
        if decision.event == ADD:
            self.facts.append(Fact(cand.text, cand.key, cand.source_ids, cand.time))
            self.index.add(cand.text)
            self.history.append((ADD, len(self.facts) - 1))
        elif decision.event == UPDATE:
            old = self.facts[decision.target]
            superseded = cand.key is not None and old.key == cand.key
            ids = cand.source_ids if superseded else tuple(dict.fromkeys(old.source_ids + cand.source_ids))
            self.facts[decision.target] = Fact(cand.text, cand.key or old.key, ids, cand.time)
            self.index.update(decision.target, cand.text)
            self.history.append((UPDATE, decision.target))
        elif decision.event == DELETE:
            self.facts[decision.target] = None
            self.index.remove(decision.target)
            self.history.append((DELETE, decision.target))
        else:
            self.history.append((NOOP, decision.target))

    def memories(self) -> list[Fact]:
        self._flush()
        return [f for f in self.facts if f is not None]

    def retrieve(self, query: Query) -> Recall:
        self._flush()
        if not len(self.index):
            return Recall(())
        hits = self.index.search(query.text, max(1, int(TOP_K)))
        items = [RecallItem(self.facts[d].text, self.facts[d].source_ids, s) for d, s in hits]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        self._flush()
