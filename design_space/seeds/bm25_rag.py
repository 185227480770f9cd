"""BM25 RAG: every turn is a document; the query's top-k turns by Okapi BM25 are recalled.

Follows the sparse-retrieval baseline used in LoCoMo and LongMemEval (Robertson & Zaragoza's
BM25 with k1 and b). Simplified: an in-memory inverted index rebuilt lazily, lower-cased
word tokens, a small English stop-word list, no stemming.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

TOP_K = 10
K1 = 1.2
B = 0.75
SHOW_SPEAKER = True
STOPWORDS = frozenset("a an the and or of to in on at for with is are was were be been it this that i you "
                      "he she they we my your his her their our me do does did what which who when where how "
                      "about just so very".split())
_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass
class Doc:
    id: str
    text: str
    terms: Counter


class Memory(MemoryProgram):
    INSTRUCTIONS = "These conversation turns matched the question by keywords, best match first."

    def __init__(self, kit):
        super().__init__(kit)
        self.docs: list[Doc] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.total_len = 0

    def encode(self, event: Event) -> list[Doc]:
        text = f"{event.speaker}: {event.text}" if SHOW_SPEAKER and event.speaker else event.text
        return [Doc(event.id, text, Counter(tokenize(event.text)))]

    def store(self, records: list[Doc]) -> None:
        for doc in records:
            idx = len(self.docs)
            self.docs.append(doc)
            self.total_len += sum(doc.terms.values())
            for term in doc.terms:
                self.postings[term].append(idx)

    def retrieve(self, query: Query) -> Recall:
        n = len(self.docs)
        if n == 0:
            return Recall(())
        avg = self.total_len / n or 1.0
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokenize(query.text)):
            posting = self.postings.get(term, ())
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for idx in posting:
                tf = self.docs[idx].terms[term]
                length = sum(self.docs[idx].terms.values())
                scores[idx] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[: max(1, int(TOP_K))]
        return Recall(tuple(RecallItem(self.docs[i].text, (self.docs[i].id,), s) for i, s in best))

    def manage(self, signal: Signal) -> None:
        return None
