"""llm_edit against a real local OpenAI-compatible server, driven through litellm."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import random
from pathlib import Path

import pytest

from design_space.validate import validate_source
from evolve.llm import Cassette, LLMClient, ModelBandit, ModelSpec
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.llm_edit import LLMEdit, LLMOperatorError
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job, Limits

# The bm25_rag and recency_window seeds, frozen so that edits and recorded cassettes stay valid.
PARENTS = Path(__file__).resolve().parent / "fixtures" / "llm" / "parents"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "llm"

PARENT = CandidateView(
    id="c0007", code=(PARENTS / "bm25_rag.py").read_text(), operator="seed:bm25_rag", note="seed",
    metrics={"recall": 0.41, "tokens": 212.0, "ndcg": 0.33},
    per_category={"multi_hop": {"recall": 0.18}, "single_fact": {"recall": 0.62}},
    failures=[
        {"query_id": "q17", "category": "multi_hop", "question": "Where did Mira move after her sister's wedding?",
         "answer": "Lisbon",
         "gold_evidence": {"D2:4": "Mira: my sister's wedding is next month",
                           "D5:9": "Mira: we finally moved to Lisbon"},
         "returned": [{"text": "Mira: the wedding cake was huge", "source_ids": ["D2:7"]}]},
        {"query_id": "q23", "category": "multi_hop", "question": "Which pet did Tom adopt before the trip?",
         "answer": "a beagle", "gold_evidence": {"D3:2": "Tom: we adopted a beagle puppy"}, "returned": []},
    ])
INSPIRATION = CandidateView(id="c0003", code=(PARENTS / "recency_window.py").read_text(),
                            metrics={"recall": 0.35, "tokens": 480.0}, operator="seed:recency_window")

MALFORMED = """Looking at the failures, multi-hop questions need more than ten candidates.

```diff
--- a/memory.py
+++ b/memory.py
@@ -14,3 +14,3 @@
-TOP_K = 10
+TOP_K = 16
```
"""
FORBIDDEN = """Let me make top-k configurable and raise its default.

<<<<<<< SEARCH
import math
import re
=======
import math
import os
import re
>>>>>>> REPLACE

<<<<<<< SEARCH
TOP_K = 10
=======
TOP_K = int(os.environ.get("MEMARCH_TOP_K", "16"))
>>>>>>> REPLACE

NOTE: configurable top-k, default 16
"""
GOOD = """You are right, `os` is not allowed. Keep the knob a literal and also index the speaker
name, since several multi-hop questions name the person.

```python
<<<<<<< SEARCH
import math
import os
import re
=======
import math
import re
>>>>>>> REPLACE
```

```python
<<<<<<< SEARCH
TOP_K = int(os.environ.get("MEMARCH_TOP_K", "16"))
=======
TOP_K = 16
>>>>>>> REPLACE
```

```python
<<<<<<< SEARCH
        return [Doc(event.id, text, Counter(tokenize(event.text)))]
=======
        return [Doc(event.id, text, Counter(tokenize(text)))]
>>>>>>> REPLACE
```

NOTE: raise top-k 10 -> 16 and index speaker names so multi-hop questions recall both evidence turns
"""
DIRECT = """<<<<<<< SEARCH
TOP_K = 10
=======
TOP_K = 16
>>>>>>> REPLACE
NOTE: raise top-k so multi-hop questions recall both evidence turns
"""


def context(seed: int = 0) -> OperatorContext:
    return OperatorContext(parents=[PARENT], inspirations=[INSPIRATION], rng=random.Random(seed),
                           lineage=["seed:bm25_rag", "c0004 (structural): K1 1.2 -> 1.5"],
                           objectives=["recall (max)", "tokens (min)"], task="synthetic")


def client_for(server, calls=None, **kw) -> LLMClient:
    spec = ModelSpec("openai/coder", api_base=server.base_url, num_retries=0, price_in=0.5, price_out=1.5)
    return LLMClient([spec], on_call=calls.append if calls is not None else None, **kw)


def test_recovers_from_a_malformed_and_an_invalid_answer(openai_server):
    server = openai_server([MALFORMED, FORBIDDEN, GOOD])
    calls = []
    child = LLMEdit(client_for(server, calls), max_fix_attempts=2).propose(context())

    assert validate_source(child.code) == []
    assert "TOP_K = 16\n" in child.code and "import os" not in child.code
    assert "Counter(tokenize(text))" in child.code
    assert child.note.startswith("raise top-k 10 -> 16")
    assert child.operator == "llm_edit" and child.parents == ("c0007",)
    assert child.meta["calls"] == 3 and child.meta["attempts"] == 3
    assert child.meta["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls)) and child.meta["cost_usd"] > 0
    assert [c["purpose"] for c in calls] == ["llm_edit", "llm_edit.fix", "llm_edit.fix"]
    assert child.meta["prompt_hash"] == calls[0]["prompt_hash"]

    first, second, third = (r["messages"] for r in server.requests)
    prompt = first[0]["content"] + first[1]["content"]
    # the prompt carries the contract, the parent, its per-category metrics, failures, lineage and an inspiration
    components = Path(__file__).resolve().parents[1] / "design_space" / "components"
    for module in sorted(components.glob("*/*.py")):
        if module.name != "__init__.py" and "\ndef " in module.read_text():
            assert f"design_space.components.{module.parent.name}.{module.stem}\n" in prompt
    for needle in ("class Memory(MemoryProgram)", "multi_hop: recall=0.18", "Where did Mira move",
                   "needed evidence D5:9: Mira: we finally moved to Lisbon", "the program returned nothing",
                   "K1 1.2 -> 1.5", "another program on the front (c0003)", "Allowed imports only"):
        assert needle in prompt, needle
    # each fix round continues the conversation with the problems found
    assert second[-2] == {"role": "assistant", "content": MALFORMED}
    assert "contains no SEARCH/REPLACE blocks" in second[-1]["content"]
    assert "[import] import of 'os' is not allowed" in third[-1]["content"]
    assert "import os" in third[-1]["content"]  # the excerpt shows the offending line


def test_fix_attempts_are_bounded(openai_server):
    server = openai_server([MALFORMED, FORBIDDEN])  # the last reply repeats: never valid
    with pytest.raises(LLMOperatorError, match="no valid child after 2 answers") as err:
        LLMEdit(client_for(server), max_fix_attempts=1).propose(context())
    assert len(server.requests) == 2
    assert err.value.meta["calls"] == 2 and err.value.meta["cost_usd"] > 0
    assert isinstance(err.value, OperatorError)  # the campaign treats it as any failed proposal


def test_provider_failure_becomes_an_operator_error(openai_server):
    server = openai_server([{"status": 500, "content": "upstream timeout"}])
    with pytest.raises(LLMOperatorError, match="upstream timeout"):
        LLMEdit(client_for(server)).propose(context())


def test_full_rewrite_mode(openai_server):
    new = PARENT.code.replace("TOP_K = 10", "TOP_K = 12").replace("B = 0.75", "B = 0.6")
    server = openai_server([f"```python\n{new}```\nNOTE: less length normalisation, more items"])
    child = LLMEdit(client_for(server), full_rewrite=True).propose(context())
    assert child.code == new and child.note == "less length normalisation, more items"
    assert "complete new program in one ```python code block" in server.requests[0]["messages"][0]["content"]


def test_cassette_replay_gives_identical_proposals_with_the_server_stopped(openai_server, tmp_path):
    server = openai_server([MALFORMED, FORBIDDEN, GOOD])
    path = tmp_path / "llm_edit.jsonl"
    recorded = LLMEdit(client_for(server, cassette=Cassette(path, "record"))).propose(context(seed=11))
    server.stop()
    replayed = LLMEdit(client_for(server, cassette=Cassette(path, "replay"))).propose(context(seed=11))
    assert (replayed.code, replayed.note, replayed.parents, replayed.meta) == \
           (recorded.code, recorded.note, recorded.parents, recorded.meta)


def test_checked_in_cassette_replays_offline():
    # Recorded once against the local server (see docs/LLM.md, Record and replay); runs with no server at all.
    client = LLMClient([ModelSpec("openai/coder", api_base="http://127.0.0.1:9/v1", price_in=0.5, price_out=1.5)],
                       cassette=Cassette(FIXTURES / "llm_edit_recovery.jsonl", "replay"))
    child = LLMEdit(client, components=False).propose(context(seed=11))
    assert child.meta["calls"] == 3 and "TOP_K = 16\n" in child.code


def test_concurrent_proposals_and_bandit_arms(openai_server):
    server = openai_server([{"content": DIRECT, "delay_s": 0.3}])
    models = [ModelSpec("openai/big", api_base=server.base_url, num_retries=0, price_in=5, price_out=15),
              ModelSpec("openai/small", api_base=server.base_url, num_retries=0, price_in=0.1, price_out=0.4)]
    op = LLMEdit(LLMClient(models), bandit=ModelBandit(seed=2))

    with ThreadPoolExecutor(4) as pool:  # as the campaign runs proposals
        children = list(pool.map(op.propose, [context(seed=i) for i in range(4)]))
    assert all("TOP_K = 16\n" in c.code and validate_source(c.code) == [] for c in children)
    assert {c.meta["arm"] for c in children} <= {"llm_edit|openai/big", "llm_edit|openai/small"}
    assert {r["model"] for r in server.requests} <= {"big", "small"}


def test_the_recovered_child_runs_in_the_sandbox(openai_server):
    server = openai_server([MALFORMED, FORBIDDEN, GOOD])
    child = LLMEdit(client_for(server)).propose(context())
    result = ProcessSandbox().run(Job(program=child.code, task="synthetic", fidelity="smoke",
                                      limits=Limits(wall_seconds=30, memory_mb=1024)))
    assert result.status == "ok", result.error
    assert result.metrics["recall"] > 0.3


def test_edits_the_current_bm25_seed_and_the_child_scores(openai_server):
    # The seed as it is in design_space/seeds today (not the frozen copy): the model's edit
    # quotes its TOP_K line, whatever the seed's default is now.
    code = (Path(__file__).resolve().parents[1] / "design_space" / "seeds" / "bm25_rag.py").read_text()
    top_k = next(line for line in code.splitlines() if line.startswith("TOP_K ="))
    reply = (f"More candidates help multi-hop questions.\n\n```python\n<<<<<<< SEARCH\n{top_k}\n=======\n"
             f"TOP_K = 24\n>>>>>>> REPLACE\n```\nNOTE: raise top-k to 24\n")
    server = openai_server([reply])
    seed = CandidateView(id="c0001", code=code, metrics={"recall": 0.4}, operator="seed:bm25_rag")
    child = LLMEdit(client_for(server)).propose(OperatorContext(parents=[seed], rng=random.Random(0)))
    assert "TOP_K = 24\n" in child.code and child.note == "raise top-k to 24"
    result = ProcessSandbox().run(Job(program=child.code, task="synthetic", fidelity="smoke",
                                      limits=Limits(wall_seconds=60, memory_mb=2048)))
    assert result.status == "ok", result.error
    assert result.metrics["recall"] > 0.3


def test_knob_only_children_skip_validation_and_anything_else_does_not():
    from design_space.seeds import seed_source
    from evolve.operators.knobs import write_knobs
    from evolve.operators.llm_edit import knob_only, syntax_problem

    base = seed_source("bm25_rag")
    assert knob_only(write_knobs(base, {"TOP_K": 17, "B": 0.3}), base)
    assert not knob_only(base.replace("TOP_K = 10", "TOP_K = 10\nimport os"), base)
    assert not knob_only(base.replace("TOP_K = 10", "TOP_K = len('x')"), base)  # a call is not a literal
    assert not knob_only(base + "\nEXTRA = 1\n", base)  # a new knob is new code
    assert not knob_only(write_knobs(base, {"TOP_K": 17}) + "\n# " + "x" * 70_000, base)  # size limit
    broken = base.replace("def retrieve(self, query", "def retrieve(self, query,,")
    (problem,) = syntax_problem(broken)
    assert problem.code == "syntax" and problem.line > 0
    assert syntax_problem(base) is None
