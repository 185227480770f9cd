"""LongMemEval task: the real oracle file from ../shared/data (skipped with a reason when absent)."""
from __future__ import annotations

import gzip
from collections import Counter

import pytest

from data_paths import need
from design_space.contract import Event, Query
from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import TaskError, get_task
from sandboxes.wire import write_episodes


@pytest.fixture(scope="module")
def path():
    return str(need("longmemeval/longmemeval_oracle_reassembled.json.gz"))


def build(path, fidelity="full", **params):
    return get_task("longmemeval").build({"path": path, **params}, fidelity, 0)


def test_every_question_is_an_episode_with_turn_and_session_gold(path):
    s = build(path)
    assert len(s.episodes) == 500 and len(s.gold) == 500
    cats = Counter(g.category for g in s.gold.values())
    assert cats["abstention"] == 30 and len(cats) == 7
    assert all(g.abstain == (g.category == "abstention") for g in s.gold.values())
    assert all(g.evidence_sessions for g in s.gold.values())
    with_turns = [g for g in s.gold.values() if g.evidence]
    assert len(with_turns) >= 470
    for g in with_turns:
        assert {s.event_session[e] for e in g.evidence} <= set(g.evidence_sessions)
    ep = s.episodes[0]
    assert isinstance(ep.steps[-2], Query)
    times = [x.time for x in ep.steps if isinstance(x, Event)]
    assert times == sorted(times) and ep.steps[-2].time >= times[-1]


def test_the_program_never_sees_upstream_ids(path, tmp_path):
    s = build(path)
    out = tmp_path / "stream.jsonl"
    write_episodes(str(out), s.episodes)
    text = out.read_text()
    assert "answer_" not in text and "_abs" not in text and "has_answer" not in text
    ids = {q for q in s.gold} | {e.id for e in s.episodes} | set(s.event_session.values())
    assert all("answer" not in i and "abs" not in i for i in ids)


def test_plain_json_reads_like_gzip(path, tmp_path):
    plain = tmp_path / "longmemeval_oracle.json"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        plain.write_text(fh.read())
    a, b = build(path, "smoke"), build(str(tmp_path), "smoke")  # a directory holding the oracle file
    assert a.gold == b.gold and len(a.gold) == 7
    assert len({g.category for g in a.gold.values()}) == 7  # smoke covers every category


def test_splits_are_disjoint_and_subset_is_deterministic(path):
    search, test = build(path, split="search"), build(path, split="test")
    assert not set(search.gold) & set(test.gold) and len(search.gold) + len(test.gold) == 500
    assert set(build(path, "subset").gold) == set(get_task("longmemeval").build({"path": path}, "subset", 3).gold)
    with pytest.raises(TaskError, match="variant"):
        build(path, variant="xl")
    with pytest.raises(TaskError, match="unknown category"):
        build(path, categories=["chit-chat"])


def test_bm25_seed_end_to_end(path):
    job = Job(program=seed_source("bm25_rag"), task="longmemeval", task_params={"path": path}, fidelity="smoke")
    r = ProcessSandbox().run(job)
    assert r.status == "ok", r.error
    assert r.metrics["session_recall"] > 0.5 and r.metrics["tokens"] <= 1024
    assert "abstention" in r.per_category and "abstain_empty" in r.per_category["abstention"]
