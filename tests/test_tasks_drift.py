"""The synthetic drift stream: seeded, and the right answer for a kind really changes midway."""
from __future__ import annotations

import pytest

from design_space.contract import Query
from design_space.seeds import seed_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import TaskError, get_task
from sandboxes.tasks.drift import DriftParams, plan


def test_answer_for_drifting_kinds_changes_at_the_drift_point():
    s = get_task("drift").build({}, "subset", 3)
    signature, before, after = plan(DriftParams(), 3)
    drifting = [k for k in range(len(before)) if before[k] != after[k]]
    assert len(drifting) == 8 and s.drift_at == 200 and len(s.order) == 400
    seen = {"before": 0, "after": 0}
    for n, qid in enumerate(s.order):
        text = s.query_text[qid]
        kind = next(k for k, words in enumerate(signature) if sum(w in text.split() for w in words) >= 2)
        want = before[kind] if n < s.drift_at else after[kind]
        assert s.gold[qid].answer == want
        if kind in drifting:
            seen["before" if n < s.drift_at else "after"] += 1
    assert seen["before"] > 50 and seen["after"] > 50


def test_stream_is_seeded_and_cold_by_default():
    a = get_task("drift").build({}, "smoke", 1)
    b = get_task("drift").build({}, "smoke", 1)
    c = get_task("drift").build({}, "smoke", 2)
    texts = lambda s: [s.query_text[q] for q in s.order]
    assert texts(a) == texts(b) and texts(a) != texts(c)
    assert isinstance(a.episodes[0].steps[0], Query)  # cold start: nothing before the first query
    warm = get_task("drift").build({"warm_per_kind": 2}, "smoke", 1)
    assert sum(e.startswith("w") for e in warm.event_label) == 32


def test_bad_parameters_name_the_cause():
    with pytest.raises(TaskError, match="drift_point"):
        get_task("drift").build({"drift_point": 1.5}, "smoke", 0)
    with pytest.raises(TaskError, match="kinds"):
        get_task("drift").build({"kinds": 1}, "smoke", 0)


def _run(seed: str, params: dict) -> dict:
    r = ProcessSandbox().run(Job(program=seed_source(seed), task="drift", task_params=params, fidelity="smoke"))
    assert r.status == "ok", r.error
    return r.metrics


def test_recency_beats_all_history_exemplars_after_the_drift():
    # a long stable stretch, then a drift: all-history memory keeps voting for the old answers
    params = {"smoke_length": 300, "drift_point": 0.6}
    recent, exemplar = _run("exp_recent", params), _run("exp_exemplar", params)
    assert recent["accuracy_after_drift"] > exemplar["accuracy_after_drift"] + 0.1
    assert exemplar["accuracy_before_drift"] > 0.5  # the exemplar memory is fine until the drift
