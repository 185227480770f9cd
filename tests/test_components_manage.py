"""Manage components: dedupe, forgetting, conflict resolution, eviction, consolidation, reflection."""
from __future__ import annotations

import numpy as np

from design_space.components.manage.conflict import ADD, DELETE, NOOP, UPDATE, decide, parse_decision
from design_space.components.manage.consolidation import clusters, merge
from design_space.components.manage.dedupe import exact_duplicate, most_similar, near_duplicates
from design_space.components.manage.eviction import lru, over_capacity
from design_space.components.manage.forgetting import DAY, Trace, exponential_decay, forget, retention
from design_space.components.manage.reflection import ReflectionTrigger, reflect
from design_space.embedders import HashingEmbedder
from design_space.kit import Kit

EMBED = HashingEmbedder(256).embed


def test_exact_and_near_duplicates():
    seen: dict[str, int] = {}
    assert exact_duplicate("Hello, World!", seen) is None
    assert exact_duplicate("hello world", seen) == 0
    vecs = EMBED(["Anna lives in Oslo", "Anna lives in Oslo!", "Bruno rides a bike"])
    assert near_duplicates(vecs, 0.95) == [(0, 1)]
    row, sim = most_similar(vecs, vecs[2], alive=np.array([True, True, False]))
    assert row in (0, 1) and sim < 0.5


def test_ebbinghaus_retention_and_recall_strengthening():
    assert retention(0.0, 1.0) == 1.0 and abs(retention(DAY, 1.0) - np.exp(-1)) < 1e-12
    assert exponential_decay(10.0, 10.0) == 0.5
    used, unused = Trace(1.0, 0.0), Trace(1.0, 0.0)
    for day in (1, 2, 3):
        used.recall(day * DAY)
    assert used.strength == 4.0 and used.last == 3 * DAY
    assert forget({"used": used, "unused": unused}, 10 * DAY, threshold=0.05) == ["unused"]


def test_conflict_resolution_decisions():
    existing = [(0, "Anna lives in Lisbon.", ("anna", "location")), (1, "Bruno has a cat called Miso.", ("bruno", "pet"))]
    newer = decide("Anna lives in Oslo.", ("anna", "location"), True, existing)
    assert (newer.event, newer.target) == (UPDATE, 0)
    assert decide("Bruno has a cat called Miso.", ("bruno", "pet"), False, existing).event == NOOP
    assert decide("Chloe has a cat called Miso.", ("chloe", "pet"), False, existing).event == ADD
    free = [(3, "I play tennis every weekend.", None)]
    assert decide("I no longer play tennis every weekend.", None, False, free).event == DELETE
    assert decide("I play tennis every weekend at the club.", None, False, free).event == UPDATE
    assert decide("I play tennis.", None, False, free).event == NOOP


def test_parse_decision_reads_model_replies_and_rejects_bad_targets():
    assert parse_decision("UPDATE 3", {3}).target == 3
    assert parse_decision("I think: delete id: 2", {2}).event == DELETE
    assert parse_decision("ADD", set()).event == ADD
    assert parse_decision("UPDATE 9", {3}) is None and parse_decision("hmm", {1}) is None


def test_capacity_eviction():
    assert over_capacity({"a": 0.9, "b": 0.1, "c": 0.5}, 2) == ["b"]
    assert over_capacity({"a": 1.0}, 5) == []
    assert lru({"x": 30.0, "y": 10.0, "z": 20.0}, 1) == ["y", "z"]


def test_consolidation_merges_similar_memories_and_keeps_every_source():
    texts = ["Anna lives in Oslo", "Anna lives in Oslo now", "Bruno rides a bike"]
    vecs = EMBED(texts)
    assert clusters(vecs, 0.7) == [[0, 1], [2]]
    merged = merge(texts, [("e0",), ("e1",), ("e2",)], vecs, 0.7)
    assert merged[0].source_ids == ("e0", "e1") and merged[0].text == "Anna lives in Oslo / Anna lives in Oslo now"
    kit = Kit(llm_fn=lambda p: "Anna lives in Oslo.", llm_call_budget=1)
    assert merge(texts, [("e0",), ("e1",), ("e2",)], vecs, 0.7, llm=kit.llm)[0].text == "Anna lives in Oslo."


def test_reflection_trigger_and_insights_with_and_without_a_model():
    trigger = ReflectionTrigger(10)
    trigger.add(6)
    assert not trigger.due()
    trigger.add(6)
    assert trigger.due() and trigger.total == 0
    memories = ["Kemal moved to Riga.", "Kemal works as a welder.", "The weather is nice."]
    rule = reflect(None, memories)
    assert len(rule) == 1 and rule[0].evidence == (0, 1) and "Kemal" in rule[0].text
    kit = Kit(llm_fn=lambda p: "- Kemal started a new life in Riga (because of 1, 2)", llm_call_budget=1)
    insight = reflect(kit.llm, memories)
    assert insight[0].text == "Kemal started a new life in Riga" and insight[0].evidence == (0, 1)
