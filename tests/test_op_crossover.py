"""crossover: an LLM merges two seeds into one valid program, through litellm and a local server."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from design_space.validate import validate_source
from evolve.llm import Cassette, LLMClient, ModelSpec
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.crossover import Crossover
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job, Limits

# The bm25_rag and recency_window seeds, frozen so that edits and recorded cassettes stay valid.
PARENTS = Path(__file__).resolve().parent / "fixtures" / "llm" / "parents"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm"
BM25 = CandidateView(id="c0001", code=(PARENTS / "bm25_rag.py").read_text(), operator="seed:bm25_rag",
                     metrics={"recall": 0.41, "tokens": 212.0},
                     per_category={"temporal": {"recall": 0.12}, "single_fact": {"recall": 0.62}},
                     failures=[{"query_id": "q5", "category": "temporal", "question": "What did Ana say last?",
                                "answer": "see you", "gold_evidence": {"D9:30": "Ana: see you tomorrow"},
                                "returned": [{"text": "Ana: hello", "source_ids": ["D1:1"]}]}])
RECENCY = CandidateView(id="c0002", code=(PARENTS / "recency_window.py").read_text(), operator="seed:recency_window",
                        metrics={"recall": 0.35, "tokens": 480.0},
                        per_category={"temporal": {"recall": 0.71}, "single_fact": {"recall": 0.20}})

UNCHANGED_A = f"""Program A already covers most of this.

```python
{BM25.code}```
NOTE: keep A
"""

MERGED = '''A is strong on single facts, B on temporal questions. The merge ranks by BM25 and
fills the rest of the token budget with the most recent turns not already recalled.

```python
"""BM25 ranking with a recency tail: keyword matches first, then the latest turns."""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

TOP_K = 8
RECENT = 6
K1 = 1.2
B = 0.75
_WORD = re.compile(r"\\w+")
STOPWORDS = frozenset("a an the and or of to in on at for with is are was were what who when".split())


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


@dataclass
class Doc:
    id: str
    text: str
    terms: Counter


class Memory(MemoryProgram):
    INSTRUCTIONS = "Keyword matches come first, then the most recent turns."

    def __init__(self, kit):
        super().__init__(kit)
        self.docs: list[Doc] = []
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.total_len = 0

    def encode(self, event: Event) -> list[Doc]:
        text = f"{event.speaker}: {event.text}" if event.speaker else event.text
        return [Doc(event.id, text, Counter(tokenize(text)))]

    def store(self, records: list[Doc]) -> None:
        for doc in records:
            self.postings_add(len(self.docs), doc)
            self.docs.append(doc)

    def postings_add(self, idx: int, doc: Doc) -> None:
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
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for idx in posting:
                tf = self.docs[idx].terms[term]
                length = sum(self.docs[idx].terms.values())
                scores[idx] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        ranked = [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]]
        ranked += [i for i in range(n - 1, max(-1, n - 1 - RECENT), -1) if i not in ranked]
        items, used = [], 0
        for rank, i in enumerate(ranked):
            cost = self.kit.count_tokens(self.docs[i].text)
            if used + cost > query.budget_tokens:
                break
            used += cost
            items.append(RecallItem(self.docs[i].text, (self.docs[i].id,), 1.0 / (rank + 1)))
        return Recall(tuple(items))

    def manage(self, signal: Signal) -> None:
        return None
```

NOTE: merge BM25 ranking (A) with a recency tail (B) inside the token budget
'''


def context(seed: int = 0) -> OperatorContext:
    return OperatorContext(parents=[BM25, RECENCY], rng=random.Random(seed), task="synthetic",
                           objectives=["recall (max)", "tokens (min)"])


def client_for(server, **kw) -> LLMClient:
    return LLMClient([ModelSpec("openai/coder", api_base=server.base_url, num_retries=0,
                                price_in=0.5, price_out=1.5)], **kw)


def test_merges_two_seeds_into_a_valid_program_after_rejecting_a_copy(openai_server):
    server = openai_server([UNCHANGED_A, MERGED])
    child = Crossover(client_for(server)).propose(context())
    assert validate_source(child.code) == []
    assert "RECENT = 6" in child.code and "idf" in child.code
    assert child.parents == ("c0001", "c0002") and child.operator == "crossover"
    assert child.note == "merge BM25 ranking (A) with a recency tail (B) inside the token budget"
    assert child.meta["calls"] == 2
    prompt = server.requests[0]["messages"][1]["content"]
    assert "## Program A (c0001)" in prompt and "## Program B (c0002)" in prompt
    assert "temporal: recall=0.71" in prompt
    assert "the program is unchanged" in server.requests[1]["messages"][-1]["content"]

    result = ProcessSandbox().run(Job(program=child.code, task="synthetic", fidelity="smoke",
                                      limits=Limits(wall_seconds=30, memory_mb=1024)))
    assert result.status == "ok", result.error
    assert result.metrics["recall"] > 0.3


def test_needs_two_different_parents(openai_server):
    server = openai_server([MERGED])
    with pytest.raises(OperatorError, match="needs 2 parent"):
        Crossover(client_for(server)).propose(OperatorContext(parents=[BM25]))
    with pytest.raises(OperatorError, match="two different parents"):
        Crossover(client_for(server)).propose(OperatorContext(parents=[BM25, BM25]))
    assert server.requests == []  # no dollars spent on a pointless merge


def test_checked_in_cassette_replays_offline():
    client = LLMClient([ModelSpec("openai/coder", api_base="http://127.0.0.1:9/v1", price_in=0.5, price_out=1.5)],
                       cassette=Cassette(FIXTURES / "crossover_merge.jsonl", "replay"))
    child = Crossover(client, components=False).propose(context(seed=11))
    assert child.meta["calls"] == 2 and "RECENT = 6" in child.code
