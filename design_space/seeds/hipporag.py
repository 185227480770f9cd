"""HippoRAG: an entity graph over turns, searched by personalised PageRank from the query's entities.

Follows HippoRAG (Gutiérrez et al., NeurIPS 2024): offline indexing runs open information
extraction over each passage (the LLM when one is configured; otherwise rule-based
entities, content words and fact triples) and builds a knowledge graph whose nodes are
phrases, linked to the passages that mention them and to each other by relations. Online,
the query's entities are matched to graph nodes, weighted by node specificity (inverse
passage count), and personalised PageRank spreads from them; passages are ranked by the
probability mass they collect. This reaches evidence two hops from the question (A's dog
is Rex; Rex eats carrots), which keyword search misses. Simplified: exact phrase matching
instead of embedding-based synonymy edges and node linking.
"""
from __future__ import annotations

from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.encode.entities import entities, mentions
from design_space.components.encode.facts import extract_facts
from design_space.components.encode.llm_extract import ask, reply_lines
from design_space.components.retrieve.packing import pack
from design_space.components.store.graph_store import EntityGraph

TOP_K = 8
DAMPING = 0.5  # HippoRAG's PPR damping factor
USE_CONTENT_WORDS = True  # content words become nodes too, not only named entities
RELATION_EDGES = True

_TRIPLE_PROMPT = ("Extract (subject; relation; object) triples from this message, one per line, "
                 "naming people, places and things explicitly.\nMessage: {text}\nTriples:")


@dataclass
class Passage:
    id: str
    text: str
    nodes: list[str]
    relations: list[tuple[str, str]]


class Memory(MemoryProgram):
    INSTRUCTIONS = "Conversation turns connected to the question's people and things, most connected first."

    def __init__(self, kit):
        super().__init__(kit)
        self.passages: list[Passage] = []
        self.graph = EntityGraph()

    def _openie(self, event: Event) -> tuple[list[str], list[tuple[str, str]]]:
        nodes = mentions(event.text) if USE_CONTENT_WORDS else [e.lower() for e in entities(event.text)]
        relations = []
        reply = ask(self.kit.llm, _TRIPLE_PROMPT.format(text=event.text))
        if reply is not None:
            for line in reply_lines(reply):
                parts = [p.strip(" ()").lower() for p in line.split(";")]
                if len(parts) == 3 and parts[0] and parts[2]:
                    relations.append((parts[0], parts[2]))
        else:
            for fact in extract_facts(event.text, event.speaker):
                obj = (entities(fact.value) or [fact.value])[-1]
                relations.append((fact.subject.lower(), obj.lower()))
        nodes = list(dict.fromkeys(nodes + [x for r in relations for x in r]))
        return nodes, relations

    def encode(self, event: Event) -> list[Passage]:
        nodes, relations = self._openie(event)
        return [Passage(event.id, annotate(event), nodes, relations if RELATION_EDGES else [])]

    def store(self, records: list[Passage]) -> None:
        for p in records:
            self.passages.append(p)
            self.graph.add_passage(p.nodes, p.relations)

    def retrieve(self, query: Query) -> Recall:
        seeds = {m: self.graph.specificity(m) for m in mentions(query.text) if self.graph.has_entity(m)}
        if not seeds:
            return Recall(())
        best = self.graph.rank_passages(seeds, float(DAMPING), k=max(1, int(TOP_K)))
        items = [RecallItem(self.passages[i].text, (self.passages[i].id,), s) for i, s in best]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
