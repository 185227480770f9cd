"""HippoRAG: a knowledge graph of phrases over turns, searched by personalised PageRank from the query's entities.

Follows HippoRAG (Gutiérrez et al., NeurIPS 2024) and HippoRAG 2 (2025): offline indexing
runs open information extraction over each passage (the LLM's triples when one is
configured; otherwise rule-based names, multi-word capitalised spans, dates, numbers and
noun phrases, plus rule-based fact triples) and builds a graph of phrase nodes linked to
the passage nodes that mention them, to each other by relations, and by synonym edges
between phrases whose embeddings are alike (HippoRAG 2's synonymy edges). Online, the
query's phrases are linked to graph nodes (exactly, or by embedding similarity), weighted by
node specificity (inverse passage count); passage nodes get a small share of the reset
mass from dense similarity (HippoRAG 2); personalised PageRank spreads from there and
passages are ranked by the probability mass they collect. Evidence that shares no word
with the question is reached through the phrases it shares with what the question names
(Anna's dog is Rex; Rex eats carrots). Simplified: rule-based extraction stands in for the
LLM's OpenIE without a model, and query-to-node linking is by phrase, not by triple.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.encode.annotate import annotate
from design_space.components.encode.entities import entities
from design_space.components.encode.facts import extract_facts
from design_space.components.encode.llm_extract import ask, reply_lines
from design_space.components.encode.phrases import phrases
from design_space.components.retrieve.packing import pack
from design_space.components.store.dense_index import DenseIndex
from design_space.components.store.graph_store import EntityGraph

TOP_K = 8
DAMPING = 0.5  # HippoRAG's PPR damping factor (0: no walk, only the seeds themselves)
SYNONYM_THRESHOLD = 0.75  # cosine above which two phrase nodes get a synonym edge (HippoRAG 2: 0.8)
PASSAGE_WEIGHT = 0.05  # share of the reset mass on passages by dense similarity (HippoRAG 2's weight)
RELATION_EDGES = True
_SYNONYMS_PER_NODE = 5  # HippoRAG 2 links each phrase to its nearest neighbours above the threshold
_PASSAGE_SEEDS = 20  # passages seeded by dense similarity

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
        self.passage_index = DenseIndex(kit.embed)
        self.node_index = DenseIndex(kit.embed)  # one row per phrase node, in order of first mention
        self.node_row: dict[str, int] = {}
        self.linked = 0  # phrase nodes already given their synonym edges

    def _openie(self, event: Event) -> tuple[list[str], list[tuple[str, str]]]:
        nodes = phrases(event.text)
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
            self.passage_index.add(p.text)
            for name in p.nodes:
                if name not in self.node_row:
                    self.node_row[name] = self.node_index.add(name)

    def _link_synonyms(self) -> None:
        """Synonym edges from each new phrase node to its nearest nodes above the threshold."""
        vecs = self.node_index.vectors()
        names = self.node_index.texts
        new = range(self.linked, len(names))
        self.linked = len(names)
        if not len(new) or float(SYNONYM_THRESHOLD) > 1.0:
            return
        sims = vecs[list(new)] @ vecs.T
        for row, i in enumerate(new):
            sims[row, i] = -1.0
            near = np.argsort(-sims[row], kind="stable")[: int(_SYNONYMS_PER_NODE)]
            for j in near:
                if sims[row, j] < float(SYNONYM_THRESHOLD):
                    break
                self.graph.add_synonym(names[i], names[int(j)], float(sims[row, j]))

    def _query_nodes(self, text: str) -> dict[str, float]:
        """The query's phrases linked to graph nodes: exactly, else the nearest node above the threshold."""
        wanted = phrases(text)
        if not wanted or not self.node_row:
            return {}
        seeds: dict[str, float] = {}
        vecs = self.node_index.vectors()
        qv = np.asarray(self.kit.embed(wanted), dtype=np.float32)
        for name, v in zip(wanted, qv):
            if name in self.node_row:
                seeds[name] = seeds.get(name, 0.0) + self.graph.specificity(name)
                continue
            sims = vecs @ v
            j = int(np.argmax(sims))
            if sims[j] >= float(SYNONYM_THRESHOLD):
                node = self.node_index.texts[j]
                seeds[node] = seeds.get(node, 0.0) + float(sims[j]) * self.graph.specificity(node)
        return seeds

    def retrieve(self, query: Query) -> Recall:
        if not self.passages:
            return Recall(())
        self._link_synonyms()
        seeds = self._query_nodes(query.text)
        total = sum(seeds.values())
        seeds = {n: v / total for n, v in seeds.items()} if total > 0 else {}
        passage_seeds = {}
        if PASSAGE_WEIGHT > 0 or not seeds:
            hits = [(d, s) for d, s in self.passage_index.search(query.text, int(_PASSAGE_SEEDS)) if s > 0]
            mass = sum(s for _, s in hits)
            share = float(PASSAGE_WEIGHT) if seeds else 1.0
            passage_seeds = {d: share * s / mass for d, s in hits} if mass > 0 else {}
        if not seeds and not passage_seeds:
            return Recall(())
        best = self.graph.rank_passages(seeds, float(DAMPING), k=max(1, int(TOP_K)), passage_seeds=passage_seeds)
        items = [RecallItem(self.passages[i].text, (self.passages[i].id,), s) for i, s in best]
        return pack(items, query.budget_tokens, self.kit.count_tokens)

    def manage(self, signal: Signal) -> None:
        return None
