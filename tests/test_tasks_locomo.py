"""LoCoMo task: real locomo10.json from ../shared/data (skipped with a reason when absent)."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import pytest

from data_paths import need
from design_space.contract import Event, Query
from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import TaskError, get_task
from sandboxes.tasks.locomo import normalise_evidence, parse_date


@pytest.fixture(scope="module")
def path():
    return str(need("locomo/locomo10.json"))


def build(path, fidelity="full", **params):
    return get_task("locomo").build({"path": path, **params}, fidelity, 0)


def test_full_stream_matches_the_published_counts(path):
    s = build(path)
    events = [x for e in s.episodes for x in e.steps if isinstance(x, Event)]
    assert len(s.episodes) == 10 and len(events) == 5882 and len(s.gold) == 1986
    cats = Counter(g.category for g in s.gold.values())
    assert cats == {"single_hop": 841, "adversarial": 446, "temporal": 321, "multi_hop": 282, "open_domain": 96}
    assert all(g.abstain == (g.category == "adversarial") for g in s.gold.values())
    # Every kept evidence id names a real turn, and its session is recorded.
    for g in s.gold.values():
        assert all(e in s.event_session for e in g.evidence)
        assert set(g.evidence_sessions) == {s.event_session[e] for e in g.evidence}
    assert sum(1 for g in s.gold.values() if not g.evidence) <= 6
    first = s.episodes[0].steps[0]
    assert first.id == "conv-26:D1:1" and first.session == "conv-26:S1"
    assert first.time == datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc).timestamp()


def test_malformed_evidence_is_normalised():
    assert normalise_evidence(["D8:6; D9:17"]) == ["D8:6", "D9:17"]
    assert normalise_evidence(["D:11:26"]) == ["D11:26"]
    assert normalise_evidence(["D9:1 D4:4 D4:6", "D9:1"]) == ["D9:1", "D4:4", "D4:6"]
    assert normalise_evidence(["D"]) == []
    assert parse_date("10:37 am on 27 June, 2023") == datetime(2023, 6, 27, 10, 37, tzinfo=timezone.utc).timestamp()
    with pytest.raises(TaskError):
        parse_date("yesterday")


def test_search_and_test_splits_are_disjoint_and_stable(path):
    search, test, full = build(path, split="search"), build(path, split="test"), build(path)
    assert not set(search.gold) & set(test.gold)
    assert set(search.gold) | set(test.gold) == set(full.gold)
    assert 0.2 < len(test.gold) / len(full.gold) < 0.4
    assert set(build(path, split="test").gold) == set(test.gold)
    by_conv = build(path, split="test", split_by="conversation")
    rest = build(path, split="search", split_by="conversation")
    assert not {e.id for e in by_conv.episodes} & {e.id for e in rest.episodes}


def test_subset_is_stratified_deterministic_and_seed_independent(path):
    a = build(path, "subset")
    b = get_task("locomo").build({"path": path}, "subset", 7)
    assert set(a.gold) == set(b.gold) and len(a.gold) == 200
    # The default subset samples its questions from every conversation of the split, in the
    # split's category proportions: a front built on it is not fitted to two conversations.
    assert len(a.episodes) == 10 and {q.split("#")[0] for q in a.gold} == {e.id for e in a.episodes}
    cats = Counter(g.category for g in a.gold.values())
    assert set(cats) == {"single_hop", "adversarial", "temporal", "multi_hop", "open_domain"}
    full = Counter(g.category for g in build(path).gold.values())
    assert all(abs(cats[c] / 200 - full[c] / sum(full.values())) < 0.02 for c in full)
    two = build(path, "subset", subset_conversations=2)
    assert len(two.episodes) == 2 and len(two.gold) == 200
    assert {q.split("#")[0] for q in two.gold} == {e.id for e in two.episodes}
    with pytest.raises(TaskError, match="subset_conversations"):
        build(path, "subset", subset_conversations=-1)
    smoke = build(path, "smoke")
    assert len(smoke.episodes) == 1 and len(smoke.gold) == 20
    only = build(path, "subset", categories=[1, "temporal"])
    assert {g.category for g in only.gold.values()} == {"multi_hop", "temporal"}


def test_streaming_asks_each_question_after_its_evidence(path):
    s = build(path, "smoke", protocol="streaming")
    seen: set[str] = set()
    positions = []
    for i, step in enumerate(s.episodes[0].steps):
        if isinstance(step, Event):
            seen.add(step.id)
        elif isinstance(step, Query):
            assert set(s.gold[step.id].evidence) <= seen
            positions.append(i)
    frozen = build(path, "smoke")
    n_events = sum(isinstance(x, Event) for x in frozen.episodes[0].steps)
    assert min(positions) < n_events  # some questions really come before the end


def test_stream_written_to_the_sandbox_carries_no_gold(path, tmp_path):
    from sandboxes.wire import write_episodes

    s = build(path, "smoke")
    out = tmp_path / "stream.jsonl"
    write_episodes(str(out), s.episodes)
    text = out.read_text()
    for line in text.splitlines():
        assert set(json.loads(line)) <= {"type", "data", "id"}
    assert '"evidence"' not in text and "adversarial_answer" not in text


def test_bad_params_name_the_cause(path, tmp_path):
    with pytest.raises(TaskError, match="'topk'"):
        build(path, topk=3)
    with pytest.raises(TaskError, match="split"):
        build(path, split="train")
    with pytest.raises(TaskError, match="snap-research/LoCoMo"):
        get_task("locomo").build({"path": str(tmp_path)}, "full", 0)


def test_bm25_seed_end_to_end_in_the_process_sandbox(path):
    job = Job(program=seed_source("bm25_rag"), task="locomo", task_params={"path": path}, fidelity="smoke")
    r = ProcessSandbox().run(job)
    assert r.status == "ok", r.error
    assert 0.2 < r.metrics["recall"] <= 1.0 and r.metrics["session_recall"] >= r.metrics["recall"] - 1e-9
    assert r.metrics["tokens"] <= 256 and r.metrics["records"] == 419
    assert "adversarial" in r.per_category or len(r.per_category) >= 3
