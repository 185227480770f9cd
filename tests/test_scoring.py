"""Scoring a transcript against gold: every metric on a hand-made case with known answers."""
from __future__ import annotations

import math

import pytest

from sandboxes.scoring import health_problem, score_transcript
from sandboxes.tasks.base import Gold, Stream


def stream() -> Stream:
    sessions = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    return Stream(episodes=[], event_session=sessions, event_text={k: f"text {k}" for k in sessions},
                  query_text={"q1": "two facts?", "q2": "nothing?", "q3": "session only?", "q4": "no gold?"},
                  gold={"q1": Gold(evidence=("a1", "b1"), answer="x", category="multi"),
                        "q2": Gold(category="abstention", abstain=True),
                        "q3": Gold(evidence_sessions=("C",), category="single"),
                        "q4": Gold(category="single")})


def entry(items, tokens=10):
    return {"items": items, "tokens": tokens, "over_budget": False, "latency_ms": 1.0}


def transcript():
    return {"queries": {
        "q1": entry([["text", ["a2"], 1.0], ["text", ["b1", "a2"], 0.5], ["text", ["c1"], 0.1]], 30),
        "q2": entry([], 0),
        "q3": entry([["text", ["c1"], 1.0]], 5),
        "q4": entry([["text", ["a1"], 1.0]], 5)},
        "ops": {"ingest": [1.0, 2.0, 3.0, 4.0], "retrieve": [10.0, 20.0], "manage": []},
        "footprint": {"records": 4, "bytes": 100}, "llm": {"calls": 2, "tokens": 50}}


def test_turn_and_session_metrics():
    out = score_transcript(stream(), transcript())
    m = out["metrics"]
    assert m["recall"] == 0.5 and m["recall_any"] == 1.0 and m["recall_all"] == 0.0
    # q1 finds sessions A and B (gold A, B): 1.0; q3 finds C: 1.0; q4 has no gold and is not scored.
    assert m["session_recall"] == 1.0 and m["session_recall_all"] == 1.0
    # ranked ids: a2, b1, c1 -> b1 (gold) at rank 2; ideal two golds at ranks 1, 2.
    assert m["ndcg"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert m["mrr"] == 0.5
    assert m["abstain_empty"] == 1.0 and m["queries"] == 4 and m["scored_queries"] == 1
    assert "recall_se" not in m  # one scored question says nothing about the spread
    assert m["tokens"] == pytest.approx((30 + 0 + 5 + 5) / 4) and m["empty_rate"] == 0.25
    assert m["ingest_ms_p50"] == 2.5 and m["retrieve_ms_p95"] == pytest.approx(19.5)
    assert m["latency_ms"] == 15.0 and m["records"] == 4 and m["llm_calls"] == 2 and m["llm_tokens"] == 50
    assert out["per_category"]["multi"]["n"] == 1 and out["per_category"]["single"]["session_recall"] == 1.0
    assert out["per_item"] == {"q1": 0.5, "q2": 1.0, "q3": 1.0, "q4": 0.0}
    fail = out["failures"][0]
    assert fail["query_id"] == "q1" and fail["question"] == "two facts?" and fail["gold_evidence"]["a1"] == "text a1"


def test_recall_se_is_the_standard_error_of_the_scored_questions_recall():
    sessions = {"a1": "A", "a2": "A", "b1": "B"}
    gold = {"q1": Gold(evidence=("a1", "a2"), category="multi"), "q2": Gold(evidence=("b1",), category="single"),
            "q3": Gold(evidence=("a1",), category="single"), "q4": Gold(category="abstention", abstain=True)}
    s = Stream(episodes=[], event_session=sessions, event_text={k: f"text {k}" for k in sessions},
               query_text={q: q for q in gold}, gold=gold)
    found = {"q1": ["a1"], "q2": ["b1"], "q3": [], "q4": []}  # recall 0.5, 1, 0; q4 is not scored
    t = {"queries": {q: entry([[f"text {i}", [i], 1.0] for i in ids]) for q, ids in found.items()},
         "ops": {}, "footprint": {"records": 3, "bytes": 10}}
    m = score_transcript(s, t)["metrics"]
    assert m["recall"] == pytest.approx(0.5) and m["scored_queries"] == 3
    assert m["recall_se"] == pytest.approx(0.5 / math.sqrt(3))  # sample sd 0.5 over 3 questions


def test_answers_join_the_rows_and_the_means():
    answers = {"q1": {"answer": "x", "f1": 1.0, "em": 1.0, "judge": 1.0},
               "q2": {"answer": "no", "f1": 0.0, "em": 0.0, "judge": 0.0}}
    out = score_transcript(stream(), transcript(), answers)
    assert out["metrics"]["f1"] == 0.5 and out["metrics"]["judge"] == 0.5
    assert out["per_category"]["multi"]["f1"] == 1.0 and out["per_category"]["abstention"]["em"] == 0.0
    assert out["failures"][0]["predicted"] == "x"


def test_missing_queries_and_health():
    t = transcript()
    del t["queries"]["q3"]
    with pytest.raises(ValueError, match="lacks 1 queries"):
        score_transcript(stream(), t)
    assert health_problem({"records": 0, "empty_rate": 0.0}) == "program stored no records"
    assert health_problem({"records": 3, "empty_rate": 1.0}) == "every recall came back empty"
    assert health_problem({"records": 3, "empty_rate": 0.5}) == ""


def _one(items, gold=("e1",), events=None):
    from sandboxes.evidence import EventWords
    from sandboxes.scoring import score_query

    texts = events or {"e1": "Anna moved to Lisbon last spring", "e2": "The weather is grim today",
                       "e3": "Ok!", "s2": "Bob adopted a grey cat named Miso"}
    sessions = {"e1": "s1", "e2": "s1", "e3": "s1", "s2": "s2"}
    entry = {"items": [[t, list(ids), 1.0] for t, ids in items], "tokens": 9, "over_budget": False}
    return score_query(Gold(evidence=tuple(gold)), entry, sessions, EventWords(texts))


def test_citing_ids_an_item_does_not_show_earns_nothing():
    assert _one([["Anna moved to Lisbon last spring", ["e1"]]])["recall"] == 1.0
    gamed = _one([["see sources", ["e2", "e1", "s2"]]])
    assert gamed["recall"] == 0.0 and gamed["mrr"] == 0.0 and gamed["ndcg"] == 0.0
    assert gamed["session_recall"] == 0.0  # a session is found only through an event shown


def test_credit_is_the_share_of_the_event_shown_from_a_floor():
    from sandboxes.evidence import FLOOR

    assert FLOOR == 0.35
    # e1's content words: anna, moved, lisbon, last, spring (5); "to" is too short
    summary = _one([["Anna: moved to Lisbon; weather grim", ["e2", "e1"]]])
    assert summary["recall"] == pytest.approx(3 / 5) and summary["recall_all"] == 1.0
    assert summary["ndcg"] == pytest.approx(0.6 / math.log2(3))  # e2 (credited 2/3) ranks first
    assert _one([["Anna moved to Lisbon", ["e1"]]])["recall"] == pytest.approx(3 / 5)  # an extracted fact
    assert _one([["Anna, Lisbon", ["e1"]]])["recall"] == pytest.approx(0.4)  # 2 of 5 >= floor
    assert _one([["Anna in spring", ["e1"]]])["recall"] == pytest.approx(0.4)
    assert _one([["Lisbon", ["e1"]]])["recall"] == 0.0  # 1 of 5 < floor
    # the question's own words show nothing of the event beyond what they share with it
    assert _one([["Where did Anna move?", ["e1"]]])["recall"] == 0.0


def test_an_item_is_judged_alone_and_repeats_earn_nothing_more():
    halves = _one([["Anna", ["e1"]], ["moved to Lisbon last spring", ["e1"]]])
    assert halves["recall"] == pytest.approx(4 / 5) and halves["mrr"] == 0.5  # first earned by item 2
    twice = _one([["Anna moved to Lisbon", ["e1"]], ["Anna moved to Lisbon", ["e1"]]])
    assert twice["recall"] == _one([["Anna moved to Lisbon", ["e1"]]])["recall"]


def test_events_without_content_words_are_never_credited():
    assert _one([["Ok!", ["e3"]]], gold=("e3",))["recall"] == 0.0


@pytest.mark.parametrize("text, earns", [
    ("ＡＮＮＡ ｍｏｖｅｄ to ＬＩＳＢＯＮ last spring", True),  # fullwidth letters are letters (NFKC)
    ("An\u200bna mo\u200dved to Lis\u2060bon last spr\u00ading", True),  # format characters are deleted
    ("Anna_moved_to_Lisbon_last_spring", False),  # one counted token shows one word
    ("Anna\u3164moved\u3164Lisbon\u3164last\u3164spring", False),  # glued by an invisible letter
    ("\u0410nn\u0430 m\u043eved Lisb\u043en l\u0430st spring", False),  # Cyrillic look-alikes spell other words
])
def test_normalisation_gives_tricks_nothing(text, earns):
    assert (_one([[text, ["e1"]]])["recall"] > 0) is earns


def test_rare_words_weigh_more_than_common_ones():
    # over these four events "moved" is in three, "lisbon" and "anna" in one each
    texts = {"e1": "Anna moved to Lisbon", "e2": "Bob moved house", "e3": "Cleo moved offices", "e4": "Ok!"}
    idf_common, idf_rare = math.log(5 / 4) + 1, math.log(5 / 2) + 1
    names = _one([["Anna, Lisbon", ["e1"]]], events=texts)["recall"]
    assert names == pytest.approx(2 * idf_rare / (2 * idf_rare + idf_common))  # 0.78: names carry the turn
    assert _one([["moved", ["e1"]]], events=texts)["recall"] == 0.0  # the common word alone shows little


@pytest.fixture(scope="module")
def synthetic_words():
    from sandboxes.evidence import EventWords
    from sandboxes.tasks import get_task

    stream = get_task("synthetic").build({}, "full", 0)
    return stream, EventWords(stream.event_text)


def test_an_extracted_fact_that_keeps_the_key_words_earns(synthetic_words):
    stream, events = synthetic_words
    sven = next(i for i, t in stream.event_text.items() if t == "Big news: Sven just moved to Porto for good.")
    # the fact mem0 extracts keeps the two rarest of the six content words
    assert events.credit("Sven lives in Porto.", [sven])[sven] == pytest.approx(0.384, abs=0.005)  # 2 of 6 words
    assert events.credit("Sven moved to Porto.", [sven])[sven] == pytest.approx(0.547, abs=0.005)
    # two of its most common words earn nothing
    assert events.credit("Good news.", [sven]) == {}


def test_items_of_the_most_frequent_words_earn_nothing(synthetic_words):
    stream, events = synthetic_words
    frequent = sorted(events.idf, key=lambda w: (events.idf[w], w))[:12]
    got = events.credit(" ".join(frequent), list(stream.event_text))
    # only events made of nothing but common words could be shown; no gold turn is one of them
    gold = {e for g in stream.gold.values() for e in g.evidence}
    assert not gold & set(got)


@pytest.mark.parametrize("text, credit", [
    ("I went to a LGBTQ support group yesterday and it was so powerful.", 1.0),
    ("Caroline went to an LGBTQ support group on 7 May 2023", 0.634),
    ("LGBTQ support group yesterday", 0.643),
    ("When did Caroline go to the LGBTQ support group?", 0.471),
    ("Caroline: LGBTQ support group", 0.471),
    ("Caroline: LGBTQ group", 0.0),
    ("see sources", 0.0),
])
def test_the_worked_example_of_the_readme(locomo_words, text, credit):
    turn = "conv-26:D1:3"
    assert locomo_words.text[turn] == "I went to a LGBTQ support group yesterday and it was so powerful."
    assert locomo_words.credit(text, [turn]).get(turn, 0.0) == pytest.approx(credit, abs=0.0005)


@pytest.fixture(scope="module")
def locomo_words():
    from data_paths import need
    from sandboxes.evidence import EventWords
    from sandboxes.tasks import get_task

    need("locomo/locomo10.json")
    return EventWords(get_task("locomo").build({}, "full", 0).event_text)


def test_latency_percentiles_equal_numpys_linear_rule_bit_for_bit():
    import random

    import numpy as np

    from sandboxes.scoring import _pct

    rng = random.Random(3)
    assert _pct([], 95) == 0.0
    for n in (1, 2, 3, 19, 20, 129):
        for _ in range(50):
            values = [rng.expovariate(0.2) for _ in range(n)]
            for q in (50, 95):
                assert _pct(values, q) == float(np.percentile(values, q))


@pytest.mark.parametrize("footprint", [{"records": 4, "bytes": -1}, {"records": 4}, None,
                                       {"records": 4, "bytes": "0"}, {"records": 4, "bytes": float("nan")}])
def test_a_transcript_without_a_measured_footprint_is_refused(footprint):
    # footprint objectives are minimised: -1 ("unknown") or a missing size would rank best
    t = transcript()
    if footprint is None:
        del t["footprint"]
    else:
        t["footprint"] = footprint
    with pytest.raises(ValueError, match="footprint: bytes"):
        score_transcript(stream(), t)
