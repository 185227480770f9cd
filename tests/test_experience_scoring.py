"""The offline predictor (a weighted vote over returned source events) and the online metrics."""
from __future__ import annotations

import pytest

from sandboxes.experience_scoring import score_experience, vote
from sandboxes.tasks.experience import Example, ExperienceParams, build_stream

LABELS = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C"}


def label_of(eid: str) -> str | None:
    return LABELS.get(eid)


def test_vote_weighs_rank_and_relative_score():
    # rank 0 alone (weight 1 + 1) beats ranks 1 and 2 together when their scores are tiny
    items = [["x", ["a1"], 1.0], ["y", ["b1"], 0.0], ["z", ["b2"], 0.0]]
    assert vote(items, label_of)[0] == "A"  # A: 2.0, B: 0.5 + 0.33
    # two well-scored lower-ranked B items outweigh one A
    items = [["x", ["a1"], 1.0], ["y", ["b1"], 1.0], ["z", ["b2"], 1.0]]
    label, weights = vote(items, label_of)
    assert label == "B" and weights["B"] == pytest.approx(1.5 + 1 / 3 + 1.0)


def test_vote_splits_an_item_over_its_sources_and_ignores_unknown_ids():
    items = [["rule", ["a1", "a2", "b1", "nope"], 2.0]]
    label, weights = vote(items, label_of)
    assert label == "A"
    assert weights == pytest.approx({"A": 2 * 2.0 / 3, "B": 2.0 / 3})
    assert vote([["x", ["nope"], 1.0]], label_of) == (None, {})
    assert vote([], label_of) == (None, {})


def test_vote_ties_go_to_the_better_ranked_label():
    items = [["x", ["c1"], 0.0], ["y", ["b1", "a1"], 0.0], ["z", ["a2"], 0.0]]
    # C: 1.0; B: 0.25; A: 0.25 + 0.33 -> C. Equal weights: the first-ranked wins.
    assert vote(items, label_of)[0] == "C"
    tie = [["x", ["b1"], 0.0], ["y", ["a1", "a2"], 0.0], ["z", ["a1"], 0.0]]
    # B: 1.0; A: 0.5 + 0.333 < 1 -> B
    assert vote(tie, label_of)[0] == "B"
    exact = [["x", ["b1", "a1"], 0.0]]
    assert vote(exact, label_of)[0] == "B"  # same weight, same rank: order of the sources decides


def _stream(labels: list[str], warm: list[str] = (), **params):
    p = ExperienceParams(warm=bool(warm), order="file", window=2, **params)
    w = [Example(f"w{i}", f"warm {i}", lab) for i, lab in enumerate(warm)]
    s = [Example(f"s{i}", f"input {i}", lab) for i, lab in enumerate(labels)]
    return build_stream("t", w, s, p, drift_at=2)


def _transcript(stream, returned: dict[str, list[str]]):
    # each item shows the event it cites (the evidence rule: a citation alone does not vote)
    queries = {q: {"items": [[stream.event_text.get(i, ""), [i], 1.0] for i in returned.get(q, [])], "tokens": 3,
                   "over_budget": False, "latency_ms": 0.1} for q in stream.order}
    return {"status": "ok", "queries": queries, "ops": {"ingest": [1.0], "retrieve": [0.5], "manage": [0.2]},
            "footprint": {"records": 7, "bytes": 2048}, "llm": {"calls": 0, "tokens": 0}}


def test_only_events_before_the_query_can_vote():
    stream = _stream(["A", "B", "A", "B"])
    # q00001 cites its own solved task (x00001, revealed after it) and a future one: no vote
    # q00002 cites x00000 (label A, in the past): right
    t = _transcript(stream, {"q00001": ["x00001", "x00003"], "q00002": ["x00000"], "q00003": ["x00001"]})
    out = score_experience(stream, t)
    assert out["per_item"] == {"q00000": 0.0, "q00001": 0.0, "q00002": 1.0, "q00003": 1.0}
    assert out["metrics"]["vote_rate"] == 0.5


def test_metrics_windows_drift_and_classes():
    stream = _stream(["A", "B", "A", "B"], warm=["A", "B"])
    t = _transcript(stream, {"q00000": ["w00000"], "q00001": ["w00000"], "q00002": ["w00000"], "q00003": ["w00001"]})
    m = score_experience(stream, t)
    assert m["per_item"] == {"q00000": 1.0, "q00001": 0.0, "q00002": 1.0, "q00003": 1.0}
    met = m["metrics"]
    assert met["accuracy"] == 0.75 and met["accuracy_first"] == 0.5 and met["accuracy_last"] == 1.0
    assert met["accuracy_before_drift"] == 0.5 and met["accuracy_after_drift"] == 1.0
    assert m["per_category"] == {"A": {"accuracy": 1.0, "n": 2.0}, "B": {"accuracy": 0.5, "n": 2.0}}
    assert met["records"] == 7 and met["memory_kb"] == 2.0 and met["step_ms"] == pytest.approx(1.7)
    assert m["failures"][0]["query_id"] == "q00001" and m["failures"][0]["predicted"] == "A"


def test_majority_fallback_uses_only_labels_revealed_so_far():
    stream = _stream(["B", "B", "A", "A"], warm=["A"], fallback="majority")
    out = score_experience(stream, _transcript(stream, {}))  # nothing is ever returned
    # before q0: {A}; q1: {A, B} tie -> A (sorted); q2: {A, B, B} -> B; q3: {A, B, B, A} -> A
    assert out["per_item"] == {"q00000": 0.0, "q00001": 0.0, "q00002": 0.0, "q00003": 1.0}
    assert score_experience(_stream(["B"]), _transcript(_stream(["B"]), {}))["metrics"]["accuracy"] == 0.0


def test_missing_query_is_a_malformed_transcript():
    stream = _stream(["A", "B"])
    t = _transcript(stream, {})
    del t["queries"]["q00001"]
    with pytest.raises(ValueError, match="lacks 1 queries"):
        score_experience(stream, t)


def test_only_events_an_item_shows_vote():
    from sandboxes.evidence import EventWords

    shows = EventWords({"a1": "refund my card payment", "b1": "card never arrived in the post"})
    labels = {"a1": "A", "b1": "B"}.get
    # an item that shows b1 but cites both: only b1 votes
    assert vote([["my card never arrived", ["a1", "b1"], 1.0]], labels, shows) == ("B", {"B": 2.0})
    # citing without showing votes for nothing, however many ids
    assert vote([["label: A", ["a1"] * 50, 1.0]], labels, shows) == (None, {})
    # a prototype that shows its examples votes in proportion to them
    label, weights = vote([['A: e.g. "refund my card payment"; "card never arrived in the post"', ["a1", "b1"], 1.0]],
                          labels, shows)
    assert weights == pytest.approx({"A": 1.0, "B": 1.0})


@pytest.mark.parametrize("size", [-1, -1024.0, None])
def test_negative_or_missing_footprint_is_refused_not_ranked_best(size):
    stream = _stream(["A", "B"])
    t = _transcript(stream, {})
    t["footprint"] = {"records": 7} if size is None else {"records": 7, "bytes": size}
    with pytest.raises(ValueError, match="footprint: bytes"):
        score_experience(stream, t)
