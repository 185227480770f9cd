"""A-MEM: Zettelkasten-style notes with keywords, tags and links; retrieval follows the links.

Follows A-MEM (Xu et al., 2025, "Agentic Memory for LLM Agents"): each interaction becomes a
note with its content, time, keywords, tags and a one-line context (written by the LLM
when one is configured; otherwise rule-based keywords, entities as tags and a template
context). Note construction embeds content + keywords + tags + context. Link generation
connects a new note to its nearest notes; memory evolution then updates those neighbours:
they take on the new note's shared tags and their context records the connection, so
their embeddings move. Retrieval returns the nearest notes and the notes they link to.
Simplified: link decisions use a similarity threshold instead of an LLM judgement; notes
are linked in batches at the next retrieval or boundary.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.entities import entities, keywords
from design_space.components.encode.llm_extract import ask, reply_lines
from design_space.components.retrieve.packing import pack
from design_space.components.store.dense_index import DenseIndex

TOP_K = 4
LINKS_PER_NOTE = 3
LINK_THRESHOLD = 0.25  # cosine above which a neighbour is linked
LINK_DECAY = 0.8  # a linked note scores this fraction of the note that led to it
EVOLVE = True
N_KEYWORDS = 5

_NOTE_PROMPT = ("Generate a structured analysis of this content: keywords (up to 5), tags (up to 3) "
               "and a one-sentence context. Reply in three lines starting with 'keywords:', 'tags:', "
               "'context:'.\nContent: {text}")


@dataclass
class Note:
    content: str
    source_ids: tuple[str, ...]
    time: float
    keywords: list[str]
    tags: list[str]
    context: str
    links: set[int] = field(default_factory=set)

    def document(self) -> str:
        """What is embedded: content plus its attributes (A-MEM's note construction)."""
        return f"{self.content} keywords: {', '.join(self.keywords)} tags: {', '.join(self.tags)} {self.context}"


def _field(reply: str, name: str) -> str:
    for line in reply_lines(reply):
        if line.lower().startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return ""


class Memory(MemoryProgram):
    INSTRUCTIONS = "Linked memory notes: the closest notes first, followed by notes they link to."

    def __init__(self, kit):
        super().__init__(kit)
        self.notes: list[Note] = []
        self.index = DenseIndex(kit.embed)
        self.unlinked: list[int] = []

    def encode(self, event: Event) -> list[Note]:
        text = f"{event.speaker}: {event.text}" if event.speaker else event.text
        kws, tags = keywords(event.text, int(N_KEYWORDS)), entities(event.text)[:3]
        context = f"{event.speaker or 'someone'} talks about {', '.join(tags or kws[:2]) or 'something'}."
        reply = ask(self.kit.llm, _NOTE_PROMPT.format(text=text))
        if reply:
            kws = [w.strip() for w in _field(reply, "keywords").split(",") if w.strip()] or kws
            tags = [w.strip() for w in _field(reply, "tags").split(",") if w.strip()] or tags
            context = _field(reply, "context") or context
        return [Note(text, (event.id,), event.time, kws, tags, context)]

    def store(self, records: list[Note]) -> None:
        for note in records:
            self.unlinked.append(len(self.notes))
            self.notes.append(note)
            self.index.add(note.document())

    def _link(self) -> None:
        """Link generation and memory evolution for notes added since the last call."""
        new, self.unlinked = self.unlinked, []
        vecs = self.index.vectors()
        for i in new:
            if i == 0:
                continue
            sims = vecs[:i] @ vecs[i]
            for j in np.argsort(-sims, kind="stable")[: int(LINKS_PER_NOTE)].tolist():
                if sims[j] < LINK_THRESHOLD:
                    break
                self.notes[i].links.add(j)
                self.notes[j].links.add(i)
                if EVOLVE:
                    self._evolve(self.notes[j], self.notes[i], j)

    def _evolve(self, old: Note, new: Note, j: int) -> None:
        """The older neighbour takes on what the two notes share, and its context records the link."""
        have = {t.lower() for t in old.tags}
        shared = [w for w in new.tags + new.keywords if w.lower() in old.content.lower() and w.lower() not in have]
        topic = ", ".join((new.tags or new.keywords)[:2])
        if not shared and topic in old.context:
            return
        old.tags = old.tags + list(dict.fromkeys(shared))[:3]
        if topic and topic not in old.context:
            old.context = f"{old.context} Related to {topic}."
        self.index.update(j, old.document())

    def retrieve(self, query: Query) -> Recall:
        if self.unlinked:
            self._link()
        hits = self.index.search(query.text, max(1, int(TOP_K)))
        ranked: dict[int, float] = {}
        for d, s in hits:
            ranked.setdefault(d, s)
        for d, s in hits:  # link following
            for j in sorted(self.notes[d].links, key=lambda j: -self.notes[j].time):
                ranked.setdefault(j, s * float(LINK_DECAY))
        order = sorted(ranked.items(), key=lambda kv: -kv[1])
        items = [RecallItem(self.notes[d].content, self.notes[d].source_ids, s) for d, s in order]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        if self.unlinked:
            self._link()
