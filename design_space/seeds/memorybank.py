"""MemoryBank: turns and daily summaries that fade on an Ebbinghaus curve unless recalled.

Follows MemoryBank (Zhong et al., AAAI 2024, "SiliconFriend"): every memory piece has a
strength S and a last-recall time; retention is R = exp(-t / S) with t the elapsed time,
recalling a memory adds 1 to S and resets t, and memories whose retention falls below a
threshold are forgotten. Each session also gets an event summary (by the LLM when one is
configured; otherwise its most salient turns), kept as a memory of its own. Retrieval is
dense (the paper uses FAISS over MiniLM/text-embedding vectors) over a candidate pool, and
the pool is ordered by relevance * (1 - RETENTION_WEIGHT + RETENTION_WEIGHT * retention):
of two equally relevant memories the stronger, more recently recalled one comes first, as
the forgetting curve says it is the better remembered. Simplified: time runs on
the stream's own clock, the time unit of t is a knob (the paper uses days), the user
portrait is not modelled, and forgetting is a deterministic threshold, not sampled.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate, format_date
from design_space.components.encode.llm_extract import summarise
from design_space.components.manage.forgetting import DAY, Trace
from design_space.components.retrieve.packing import pack
from design_space.components.retrieve.scorers import rule_importance
from design_space.components.store.dense_index import DenseIndex

TOP_K = 8
RETENTION_WEIGHT = 0.2  # how far a faded memory's relevance is discounted (0: relevance only)
UNIT_DAYS = 30.0  # one unit of t in R = exp(-t / S)
FORGET_BELOW = 0.02  # retention under which a memory is dropped
RECALL_BOOST = 1.0  # added to S on each recall (MemoryBank: +1)
_SUMMARY_WORDS = 40
_POOL = 4  # candidates per returned memory, re-ordered by relevance and retention
SUMMARISE_SESSIONS = True


@dataclass
class Piece:
    id: int
    text: str
    source_ids: tuple[str, ...]
    trace: Trace
    summary: bool = False
    session: str = ""
    meta: dict = field(default_factory=dict)


class Memory(MemoryProgram):
    INSTRUCTIONS = ("Memories of past conversations and daily summaries, most relevant first. "
                    "Memories not recalled for a long time may have been forgotten.")

    def __init__(self, kit):
        super().__init__(kit)
        self.pieces: list[Piece | None] = []
        self.index = DenseIndex(kit.embed)
        self.clock = 0.0
        self.session_turns: dict[str, list[Piece]] = {}

    def encode(self, event: Event) -> list[Piece]:
        self.clock = max(self.clock, event.time)
        return [Piece(-1, annotate(event), (event.id,), Trace(1.0, event.time), session=event.session)]

    def store(self, records: list[Piece]) -> None:
        for p in records:
            p.id = len(self.pieces)
            self.pieces.append(p)
            self.index.add(p.text)
            if not p.summary:
                self.session_turns.setdefault(p.session, []).append(p)

    def retrieve(self, query: Query) -> Recall:
        now = max(self.clock, query.time)
        k = max(1, int(TOP_K))
        w = min(1.0, max(0.0, float(RETENTION_WEIGHT)))
        unit = max(1e-9, float(UNIT_DAYS)) * DAY
        scored = [(d, s * (1.0 - w + w * self.pieces[d].trace.retention(now, unit)))
                  for d, s in self.index.search(query.text, k * _POOL)]
        hits = sorted(scored, key=lambda h: -h[1])[:k]
        items = [RecallItem(self.pieces[d].text, self.pieces[d].source_ids, s) for d, s in hits]
        recall = pack(items, query.budget_tokens, self.kit.count_tokens)
        returned = {item.text for item in recall.items}
        for d, _ in hits:  # recalling strengthens the memory and resets its clock
            if self.pieces[d].text in returned:
                self.pieces[d].trace.recall(now, float(RECALL_BOOST))
        return recall

    def manage(self, signal: Signal) -> None:
        self.clock = max(self.clock, signal.time)
        if signal.kind == "session_end" and SUMMARISE_SESSIONS:
            self._summarise(signal.session, signal.time)
        if signal.kind in ("session_end", "task_end"):
            self.forget(self.clock)

    def _summarise(self, session: str, when: float) -> None:
        turns = [p for p in self.session_turns.pop(session, []) if p is not None]
        if not turns:
            return
        if self.kit.llm is not None:
            text = summarise(self.kit.llm, [p.text for p in turns], int(_SUMMARY_WORDS))
            ids = tuple(i for p in turns for i in p.source_ids)
        else:  # the session's most salient turns stand in for an abstractive summary
            ranked = sorted(turns, key=lambda p: -rule_importance(p.text))[:3]
            ranked.sort(key=lambda p: p.id)
            text = " ".join(p.text for p in ranked)
            ids = tuple(i for p in ranked for i in p.source_ids)
        header = f"Summary of {format_date(when)}: " if when else "Session summary: "
        self.store([Piece(-1, header + text, ids, Trace(1.0, when), summary=True, session="")])

    def forget(self, now: float) -> list[int]:
        """Drop every non-summary piece whose retention is below the threshold; returns their ids."""
        dropped = []
        for p in self.pieces:
            if p is None or p.summary:
                continue
            if p.trace.retention(now, float(UNIT_DAYS) * DAY) < FORGET_BELOW:
                self.index.remove(p.id)
                self.pieces[p.id] = None
                dropped.append(p.id)
        return dropped
