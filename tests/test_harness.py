"""The process sandbox turns program failures into result statuses, never exceptions."""
import pytest

from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job, Limits

HEAD = '''
from design_space import MemoryProgram, Recall, RecallItem
class Memory(MemoryProgram):
    def __init__(self, kit):
        super().__init__(kit)
        self.items = []
    def encode(self, event): return [event]
    def store(self, records): self.items.extend(records)
    def manage(self, signal): pass
'''


def run(program, wall=20.0, fidelity="smoke"):
    return ProcessSandbox().run(Job(program=program, task="synthetic", fidelity=fidelity,
                                    limits=Limits(wall_seconds=wall, memory_mb=1024)))


def test_seed_runs_ok_with_metrics():
    res = run(seed_source("bm25_rag"))
    assert res.status == "ok", res.error
    assert 0.3 < res.metrics["recall"] <= 1.0
    assert res.metrics["records"] > 50
    assert set(res.per_category) >= {"single_fact", "multi_hop", "temporal", "abstention"}
    assert res.failures and "gold_evidence" in res.failures[0]
    assert res.resources["wall_s"] > 0


def test_crashing_program_is_crashed_with_traceback():
    res = run(HEAD + "    def retrieve(self, query):\n        raise ValueError('boom in retrieve')\n")
    assert res.status == "crashed"
    assert "boom in retrieve" in res.error


def test_hanging_program_times_out():
    res = run(HEAD + "    def retrieve(self, query):\n        while True:\n            pass\n", wall=3.0)
    assert res.status == "timeout"
    assert res.resources["wall_s"] < 10


def test_wrong_return_type_is_a_contract_violation():
    res = run(HEAD + "    def retrieve(self, query):\n        return ['not a recall']\n")
    assert res.status == "crashed"
    assert "expected Recall" in res.error


def test_memory_bomb_is_oom():
    res = run(HEAD + "    def retrieve(self, query):\n        self.x = [0] * (10 ** 10)\n        return Recall(())\n")
    assert res.status == "oom"


def test_invalid_program_never_runs():
    res = run("import os\n" + HEAD + "    def retrieve(self, query):\n        return Recall(())\n")
    assert res.status == "invalid"
    assert "'os'" in res.error


def test_program_that_stores_nothing_is_flagged():
    src = HEAD.replace("self.items.extend(records)", "pass").replace("return [event]", "return []")
    res = run(src + "    def retrieve(self, query):\n        return Recall(())\n")
    assert res.status == "ok"
    assert res.metrics["recall"] == 0.0
    assert "stored no records" in res.error


def test_over_budget_items_are_dropped():
    src = HEAD + ("    def retrieve(self, query):\n"
                  "        big = ' '.join(['word'] * 5000)\n"
                  "        return Recall((RecallItem(big, tuple(e.id for e in self.items)),))\n")
    res = run(src)
    assert res.status == "ok"
    assert res.metrics["tokens"] == 0
    assert res.metrics["over_budget_rate"] == 1.0
    assert res.metrics["recall"] == 0.0


@pytest.mark.parametrize("fidelity", ["smoke", "full"])
def test_results_are_deterministic_apart_from_timing(fidelity):
    a, b = run(seed_source("bm25_rag"), fidelity=fidelity), run(seed_source("bm25_rag"), fidelity=fidelity)
    assert a.per_item == b.per_item
    assert a.metrics["recall"] == b.metrics["recall"]
