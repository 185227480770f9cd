"""MemGPT / Letta: core memory blocks, a bounded recall queue, and archival memory with eviction.

Follows MemGPT (Packer et al., 2023) and its successor Letta: the main context holds core
memory blocks (what the agent knows about the human, edited with core_memory_append /
replace), a recursive summary of what was evicted, and the recent message queue. When the
queue passes its token capacity, the oldest half is flushed to archival memory and folded
into the summary (by the LLM when one is configured; extractively otherwise). Questions
are answered from core memory, the queue (conversation_search) and archival memory
(archival_memory_search). Simplified: a fixed policy stands in for the agent's function
calls — rule-based facts go to the "human" block (a newer value replaces an older one),
and every query searches both the queue and archival memory.
"""
from __future__ import annotations

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.encode.entities import mentions, tokens
from design_space.components.encode.facts import extract_facts
from design_space.components.encode.llm_extract import summarise
from design_space.components.retrieve.fusion import rrf
from design_space.components.retrieve.packing import pack
from design_space.components.store.tiered_store import TierItem, TieredStore

RECALL_TOKENS = 1500  # the message queue's share of the context window
FLUSH_FRACTION = 0.5  # MemGPT evicts about half the queue on overflow
ARCHIVAL_K = 6
RECALL_K = 4
CORE_LIMIT_CHARS = 1200
SUMMARY_WORDS = 60


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Core memory about the user first, then matching recent messages and archival "
                    "memories. Core memory reflects the latest known facts.")

    def __init__(self, kit):
        super().__init__(kit)
        self.tiers = TieredStore(kit.embed, int(RECALL_TOKENS), float(FLUSH_FRACTION))
        self.tiers.core.limit = int(CORE_LIMIT_CHARS)
        self.summary = ""
        self.summary_ids: tuple[str, ...] = ()
        self.core_keys: dict[tuple, str] = {}

    def encode(self, event: Event) -> list[TierItem]:
        text = annotate(event, date=True)
        for fact in extract_facts(event.text, event.speaker):
            self._core_write(fact, event.id)
        return [TierItem(text, (event.id,), event.time, self.kit.count_tokens(text))]

    def _core_write(self, fact, event_id: str) -> None:
        line = fact.render()
        old = self.core_keys.get(fact.key) if fact.single else None
        if old is not None and self.tiers.core.replace("human", old, line):
            # core_memory_replace keeps the line's place; point its evidence at the newer turn
            lines = self.tiers.core.blocks["human"]
            lines[:] = [(t, (event_id,)) if t == line else (t, ids) for t, ids in lines]
        else:
            self.tiers.core.append("human", line, (event_id,))
        self.core_keys[fact.key] = line

    def store(self, records: list[TierItem]) -> None:
        for item in records:
            evicted = self.tiers.append(item)
            if evicted:
                self._fold(evicted)

    def _fold(self, evicted: list[TierItem]) -> None:
        """Recursive summary: the old summary and the evicted messages become the new summary."""
        texts = ([self.summary] if self.summary else []) + [e.text for e in evicted]
        self.summary = summarise(self.kit.llm, texts, int(SUMMARY_WORDS))
        if self.kit.llm is not None:  # an abstractive summary rests on everything just evicted
            self.summary_ids = tuple(i for e in evicted for i in e.source_ids)
        else:  # an extractive one only on the turns it kept
            self.summary_ids = tuple(e.source_ids[0] for e in evicted if e.text.split("] ", 1)[-1] in self.summary)

    def retrieve(self, query: Query) -> Recall:
        terms = set(tokens(query.text))
        wanted = set(mentions(query.text))
        core = [(text, ids) for _, text, ids in self.tiers.core.items()
                if wanted.intersection(mentions(text))]
        archival = self.tiers.search_archival(query.text, int(ARCHIVAL_K))
        recent = self.tiers.search_recall(terms, int(RECALL_K))
        pool: dict[str, RecallItem] = {}
        for text, ids in core:
            pool.setdefault(text, RecallItem(text, ids, 1.0))
        for item, score in archival:
            pool.setdefault(item.text, RecallItem(item.text, item.source_ids, score))
        for item in recent:
            pool.setdefault(item.text, RecallItem(item.text, item.source_ids, 0.5))
        # the in-context queue is what the agent already sees: its matches rank after stored memories
        fused = rrf([[t for t, _ in core], [i.text for i, _ in archival], [i.text for i in recent]],
                    weights=(1.0, 1.0, 0.5))
        ranked = sorted(pool.values(), key=lambda it: -fused.get(it.text, 0.0))
        if self.summary and self.summary_ids:
            ranked.append(RecallItem(f"Summary of earlier conversation: {self.summary}", self.summary_ids, 0.0))
        return pack(ranked, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
