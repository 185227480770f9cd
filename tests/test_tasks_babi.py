"""bAbI task: the real 20 tasks v1.2 from ../shared/data (skipped with a reason when absent)."""
from __future__ import annotations

from collections import Counter

import pytest

from data_paths import need
from design_space.contract import Event, Query
from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import TaskError, get_task


@pytest.fixture(scope="module")
def path():
    return str(need("babi/tasks_1-20_v1-2/en"))


def build(path, fidelity="full", **params):
    return get_task("babi").build({"path": path, **params}, fidelity, 0)


def test_test_files_give_twenty_tasks_of_a_thousand_questions(path):
    s = build(path)
    assert Counter(g.category for g in s.gold.values()) == {c: 1000 for c in {g.category for g in s.gold.values()}}
    assert len({g.category for g in s.gold.values()}) == 20


def test_first_qa1_story_is_parsed_line_by_line(path):
    s = build(path, categories=[1])
    ep = s.episodes[0]
    events = [x for x in ep.steps if isinstance(x, Event)]
    queries = [x for x in ep.steps if isinstance(x, Query)]
    assert events[0].id == "qa1:test:0:1" and events[0].text.endswith(".")
    q = queries[0]
    gold = s.gold[q.id]
    assert q.text.endswith("?") and " " not in gold.answer
    assert all(e in s.event_text for e in gold.evidence)
    # Streaming (bAbI's own protocol): a question sits right after the lines before it.
    index = ep.steps.index(q)
    assert {x.id for x in ep.steps[:index] if isinstance(x, Event)} >= set(gold.evidence)


def test_splits_are_the_train_and_test_files(path):
    search, test = build(path, split="search", categories=["qa2"]), build(path, categories=["qa2"])
    assert all(":train:" in q for q in search.gold) and all(":test:" in q for q in test.gold)
    frozen = build(path, categories=[3], protocol="frozen")
    ep = frozen.episodes[0]
    kinds = [type(x).__name__ for x in ep.steps]
    assert kinds.index("Query") > max(i for i, k in enumerate(kinds) if k == "Event")


def test_subset_is_stratified_over_the_twenty_tasks(path):
    s = build(path, "subset")
    assert len(s.gold) == 200 and Counter(g.category for g in s.gold.values()).most_common(1)[0][1] == 10
    assert set(s.gold) == set(get_task("babi").build({"path": path}, "subset", 9).gold)
    with pytest.raises(TaskError, match="unknown category"):
        build(path, categories=[21])
    with pytest.raises(TaskError, match="babi data not found"):
        get_task("babi").build({"path": "/nonexistent"}, "full", 0)


def test_bm25_seed_end_to_end(path):
    r = ProcessSandbox().run(Job(program=seed_source("bm25_rag"), task="babi", task_params={"path": path},
                                 fidelity="smoke"))
    assert r.status == "ok", r.error
    assert r.metrics["recall_any"] > 0.5 and len(r.per_category) == 20
