"""Encode components: chunking, annotation, rule-based facts and entities, LLM extraction with fallbacks."""
from __future__ import annotations

from design_space.components.encode.annotate import annotate, format_date
from design_space.components.encode.chunking import SessionBuffer, SlidingWindow, turn_chunk
from design_space.components.encode.entities import entities, keywords, mentions, tokens
from design_space.components.encode.facts import extract_facts
from design_space.components.encode.llm_extract import ask, extractive_summary, llm_facts, summarise
from design_space.components.encode.phrases import phrases
from design_space.contract import Event
from design_space.kit import Kit

T0 = 1_700_000_000.0  # 14 November 2023


def ev(i: int, text: str, session: str = "s0", speaker: str = "Anna") -> Event:
    return Event(f"e{i}", text, T0 + 60 * i, speaker, session)


def test_annotation_adds_speaker_and_date():
    assert annotate(ev(0, "hi")) == "Anna: hi"
    assert annotate(ev(0, "hi"), date=True) == "[14 November 2023] Anna: hi"
    assert format_date(0.0) == ""


def test_turn_window_and_session_chunking_keep_source_ids():
    assert turn_chunk(ev(3, "x")).source_ids == ("e3",)
    win = SlidingWindow(size=3, stride=2)
    out = [c for i in range(6) for c in win.push(ev(i, f"t{i}"))]
    assert [c.source_ids for c in out] == [("e0",), ("e0", "e1", "e2"), ("e2", "e3", "e4")]
    assert win.flush()[0].source_ids == ("e3", "e4", "e5") and win.flush() == []
    # windows never straddle sessions
    assert win.push(ev(9, "new", session="s1"))[0].source_ids == ("e9",)
    buf = SessionBuffer()
    assert buf.push(ev(0, "a")) == [] and buf.push(ev(1, "b")) == []
    flushed = buf.push(ev(2, "c", session="s1"))
    assert flushed[0].source_ids == ("e0", "e1") and "Anna: a\nAnna: b" == flushed[0].text
    assert buf.flush()[0].source_ids == ("e2",) and buf.flush() == []


def test_rule_based_facts_resolve_subjects_and_keys():
    facts = extract_facts("My sister Anna lives in Lisbon and works as a nurse. I adopted a cat named Miso.", "Ben")
    got = {(f.subject, f.attribute, f.value) for f in facts}
    assert ("Anna", "location", "Lisbon") in got and ("Anna", "job", "nurse") in got
    assert ("Anna", "relation_to_ben", "sister") in got
    assert ("Ben", "pet", "cat named Miso") in got
    moved = extract_facts("Big news: Anna just moved to Oslo for good.")
    assert [(f.key, f.value, f.single) for f in moved] == [(("anna", "location"), "Oslo", True)]
    assert extract_facts("The weather has been strange lately.") == []
    assert moved[0].render() == "Anna lives in Oslo."


def test_entities_keywords_and_mentions():
    text = "What does Anna's dog eat? Anna and Bruno went to New York."
    assert entities(text) == ["Anna", "Bruno", "New York"]
    assert "what" not in tokens(text) and "dog" in tokens(text)
    assert keywords("cello cello lessons with the teacher", 2) == ["cello", "lessons"]
    assert "new york" in mentions(text) and "dog" in mentions(text)


def test_llm_extraction_uses_the_model_and_falls_back_without_one_or_when_budget_is_spent():
    kit = Kit(llm_fn=lambda p: "- Anna owns a boat\n- NONE" if "Facts:" in p else "A short summary.", llm_call_budget=2)
    assert llm_facts(kit.llm, "Anna owns a boat.") == ["Anna owns a boat"]
    assert summarise(kit.llm, ["Anna owns a boat.", "It is red."]) == "A short summary."
    assert ask(kit.llm, "anything") is None  # budget of 2 calls is spent: no exception, no reply
    assert llm_facts(kit.llm, "Anna lives in Lima.") == ["Anna lives in Lima."]  # rule fallback
    assert llm_facts(None, "Anna lives in Lima.") == ["Anna lives in Lima."]
    assert kit.llm_calls == 2


def test_extractive_summary_keeps_dense_sentences_within_the_word_limit():
    texts = ["Anna moved to Kyoto.", "ok.", "Anna loves Kyoto and its temples.", "The weather is fine."]
    summary = extractive_summary(texts, max_words=10)
    assert "Kyoto" in summary and len(summary.split()) <= 10


def test_phrases_are_names_dates_numbers_and_noun_phrases_not_every_word():
    assert phrases("On 7 May 2023 Tara bought 3 goats for the farm near Lyon.") == [
        "7 may 2023", "tara", "lyon", "3 goats", "farm", "goats"]  # the counted noun is a node of its own too
    assert phrases("The dog park was crowded on Sunday.") == ["sunday", "dog park"]
    assert phrases("Rex absolutely loves eating carrots.") == ["rex", "carrots"]
    assert phrases("Dr Ines Moreau teaches cello to Priya.") == ["dr ines moreau", "priya", "cello"]
    assert phrases("Where does Priya's teacher live?") == ["priya", "teacher"]  # the verb ends the phrase
