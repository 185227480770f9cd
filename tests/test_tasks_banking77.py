"""BANKING77 as an experience stream: no label before its query, cold vs warm, splits, subsets."""
from __future__ import annotations

from collections import Counter

import pytest
from data_paths import need

from design_space.contract import Event, Query, Signal
from sandboxes.tasks import TaskError, get_task


@pytest.fixture(scope="module")
def data():
    return str(need("banking77/train.csv").parent)


def build(data, fidelity="smoke", seed=0, **params):
    return get_task("banking77").build({"path": data, **params}, fidelity, seed)


def test_no_label_reaches_the_program_before_its_query(data):
    s = build(data)
    steps = s.episodes[0].steps
    revealed: set[str] = set()
    for k, step in enumerate(steps):
        if isinstance(step, Query):
            gold = s.gold[step.id].answer
            assert "label" not in step.meta and gold not in map(str, step.meta.values())
            # the very next steps are its feedback, then the solved task carrying the label
            fb, ev = steps[k + 1], steps[k + 2]
            assert isinstance(fb, Signal) and fb.kind == "feedback" and fb.payload["label"] == gold
            assert fb.payload["query_id"] == step.id
            assert isinstance(ev, Event) and ev.meta["label"] == gold and ev.text == step.text
        elif isinstance(step, Event):
            revealed.add(step.id)
    # ids are stream positions: they say nothing of the class (the file lists rows by class)
    labels = set(s.event_label.values())
    assert not any(lab in eid for eid in revealed for lab in labels)


def test_warm_start_replays_train_before_the_stream_and_cold_does_not(data):
    warm = build(data)
    steps = warm.episodes[0].steps
    first_q = next(k for k, st in enumerate(steps) if isinstance(st, Query))
    before = [st for st in steps[:first_q] if isinstance(st, Event)]
    assert len(before) == 770 and all(e.id.startswith("w") and e.meta["label"] for e in before)
    cold = build(data, warm=False)
    steps = cold.episodes[0].steps
    assert isinstance(next(st for st in steps if not isinstance(st, Signal)), Query)
    assert len(cold.order) == len(warm.order) == 154


def test_fidelities_are_stratified_and_deterministic(data):
    s = build(data)
    per_class = Counter(s.gold[q].answer for q in s.order)
    assert len(per_class) == 77 and set(per_class.values()) == {2}
    assert build(data).order == s.order
    assert [s.query_text[q] for q in s.order] == [build(data).query_text[q] for q in s.order]
    other = build(data, order_seed=1)
    assert sorted(other.query_text.values()) == sorted(s.query_text.values())
    assert [other.query_text[q] for q in other.order] != [s.query_text[q] for q in s.order]


def test_full_test_split_and_search_split_never_meet(data):
    full = build(data, "full", warm=False)
    assert len(full.order) == 3080
    search = build(data, "full")
    warm_texts = {search.event_text[e] for e in search.event_label if e.startswith("w")}
    stream_texts = set(search.query_text.values())
    s2 = build(data, "full", split="search")
    w2 = Counter(s2.event_text[e] for e in s2.event_label if e.startswith("w"))
    q2 = Counter(s2.query_text.values())
    assert sum(w2.values()) + sum(q2.values()) == 10003 and 1900 < sum(q2.values()) < 2100
    assert len(warm_texts) > 9000 and stream_texts  # test split: train is warm memory, test is streamed


@pytest.mark.parametrize("params,msg", [({"order": "sorted"}, "order"), ({"bogus": 1}, "unknown parameter 'bogus'"),
                                        ({"split": "dev"}, "split"), ({"capacity_records": -1}, "capacity_records")])
def test_bad_parameters_name_the_cause(data, params, msg):
    with pytest.raises(TaskError, match=msg):
        build(data, **params)


def test_missing_data_names_the_path(tmp_path):
    with pytest.raises(TaskError, match="banking77 data not found"):
        get_task("banking77").build({"path": str(tmp_path)}, "smoke", 0)
