"""The synthetic generator: deterministic, every category, fast default, lazy 10^5+ scale."""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from design_space.contract import Event, Query
from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import TaskError, get_task
from sandboxes.tasks.synthetic import CATEGORIES, LazySteps
from sandboxes.wire import step_to_json


def dump(stream) -> str:
    return json.dumps([[step_to_json(s) for s in ep.steps] for ep in stream.episodes])


def test_default_is_deterministic_fast_and_covers_every_category():
    t0 = time.perf_counter()
    a = get_task("synthetic").build({}, "full", 0)
    assert time.perf_counter() - t0 < 0.5
    b = get_task("synthetic").build({}, "full", 0)
    assert dump(a) == dump(b) and a.gold == b.gold
    assert dump(a) != dump(get_task("synthetic").build({}, "full", 1))
    assert set(Counter(g.category for g in a.gold.values())) == set(CATEGORIES)
    for qid, g in a.gold.items():
        assert all(e in a.event_text for e in g.evidence)
        assert g.abstain == (g.category == "abstention")
        assert a.query_text[qid].endswith("?")
    prefs = [g for g in a.gold.values() if g.category == "preference"]
    assert all(g.answer in a.event_text[g.evidence[0]] for g in prefs)


def test_update_evidence_is_the_newer_statement():
    s = get_task("synthetic").build({}, "full", 0)
    for g in (g for g in s.gold.values() if g.category == "update"):
        assert "moved to" in s.event_text[g.evidence[0]] and g.answer in s.event_text[g.evidence[0]]


def test_size_reaches_scale_lazily_and_reiterates_identically():
    t0 = time.perf_counter()
    s = get_task("synthetic").build({"size": 100_000}, "full", 0)
    assert time.perf_counter() - t0 < 0.5  # the plan only; events come while iterating
    assert all(isinstance(ep.steps, LazySteps) for ep in s.episodes)
    n = sum(1 for ep in s.episodes for x in ep.steps if isinstance(x, Event))
    assert 90_000 <= n <= 110_000
    assert sum(len(ep.steps) for ep in s.episodes) == sum(1 for ep in s.episodes for _ in ep.steps)
    first = [step_to_json(x) for x, _ in zip(s.episodes[0].steps, range(50))]
    again = [step_to_json(x) for x, _ in zip(s.episodes[0].steps, range(50))]
    assert first == again
    # Sessions come from ids, without a dict of every event.
    some = next(x for x in s.episodes[1].steps if isinstance(x, Event))
    assert s.event_session[some.id] == some.session
    for g in s.gold.values():
        assert all(e in s.event_text for e in g.evidence)


def test_streaming_asks_after_the_evidence():
    s = get_task("synthetic").build({"protocol": "streaming"}, "full", 0)
    for ep in s.episodes:
        seen: set[str] = set()
        early = 0
        for i, step in enumerate(ep.steps):
            if isinstance(step, Event):
                seen.add(step.id)
            elif isinstance(step, Query):
                assert set(s.gold[step.id].evidence) <= seen
                early += any(isinstance(x, Event) for x in ep.steps[i:])
        assert early > 0


def test_bad_params():
    with pytest.raises(TaskError, match="'sessionz'"):
        get_task("synthetic").build({"sessionz": 3}, "full", 0)
    with pytest.raises(TaskError, match="size"):
        get_task("synthetic").build({"size": -1}, "full", 0)
    with pytest.raises(TaskError, match="protocol"):
        get_task("synthetic").build({"protocol": "live"}, "full", 0)


def test_bm25_seed_scores_on_the_synthetic_task():
    r = ProcessSandbox().run(Job(program=seed_source("bm25_rag"), task="synthetic", fidelity="full"))
    assert r.status == "ok", r.error
    assert r.metrics["recall"] > 0.6 and set(r.per_category) == set(CATEGORIES)
