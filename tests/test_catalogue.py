"""The component catalogue: declared interfaces and knobs match the code, and each new retrieval
component does, on a small crafted conversation, the one thing its name says."""
import datetime as dt
import inspect
import random
from pathlib import Path

import pytest

from design_space.catalogue import COMPONENTS, SLOTS, STAGES
from design_space.contract import Event, Query, Signal
from design_space.kit import Kit
from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.operators.pipeline_edits import insert_at, present
from sandboxes.backends.process import ProcessSandbox
from sandboxes.harness import load_program
from sandboxes.job import Job

FROZEN_BM25 = (Path(__file__).resolve().parent / "fixtures" / "llm" / "parents" / "bm25_rag.py").read_text()
DAY = 86400.0


def _ts(y, m, d):
    return dt.datetime(y, m, d, 12, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_declared_interface_and_knobs_match_the_code(name):
    comp = COMPONENTS[name]
    assert comp.stage in STAGES and comp.slot in SLOTS
    fn = comp.load()
    params = inspect.signature(fn.__init__ if inspect.isclass(fn) else fn).parameters
    if comp.slot != "index":
        positional = [p for p in SLOTS[comp.slot][3].split(", ") if p] + list(comp.extra)
        names = [p for p in params if p != "self"]
        assert len(names) >= len(positional), f"{name} takes fewer arguments than its slot passes"
        rest = names[len(positional):]
        assert sorted(k.arg for k in comp.knobs) == sorted(rest), f"{name}: knobs {rest} undeclared or unknown"
    for spec in list(comp.knobs) + list(comp.params.values()):
        assert spec.low <= spec.default <= spec.high, spec
        assert spec.name.isupper()
        if comp.slot != "index":
            assert params[spec.arg].default == spec.default, f"{name}.{spec.arg}: declared default differs"
    # a knob constant belongs to one component: structural edits add and drop it with its line
    others = {k.name for c in COMPONENTS.values() if c.name != name for k in c.knobs}
    assert not others & {k.name for k in comp.knobs}


def _memory(code, turns, tmp_path):
    mem = load_program(code, str(tmp_path))(Kit())
    for i, (speaker, text, session, t) in enumerate(turns):
        mem.store(mem.encode(Event(f"e{i}", text, t, speaker, session)))
    return mem


def _recalled(code, turns, question, tmp_path, signal=None):
    mem = _memory(code, turns, tmp_path)
    if signal is not None:
        mem.manage(signal)
    recall = mem.retrieve(Query("q", question, _ts(2024, 1, 1), 400))
    return [i for item in recall.items for i in item.source_ids]


def _with(comp_name, knobs=None, top_k=1, base=None):
    code = (base or seed_source("bm25_rag")).replace("TOP_K = 10", f"TOP_K = {top_k}")
    comp = COMPONENTS[comp_name]
    code = insert_at(code, comp.slot, comp, 0)
    for name, value in (knobs or {}).items():
        code = code.replace(f"\n{name} = ", f"\n{name} = {value!r}  # was ", 1)
    assert validate_source(code) == []
    return code


FILLER = [("Bo", f"The weather report said {w} skies again.", "s0", _ts(2023, 1, 2)) for w in
          ("grey", "blue", "cloudy", "clear", "stormy")]


def test_prf_reaches_a_turn_in_the_answers_words(tmp_path):
    turns = FILLER + [("Ann", "I adopted a greyhound from the shelter.", "s1", _ts(2023, 3, 1)),
                      ("Bo", "That greyhound loves chasing squirrels.", "s1", _ts(2023, 3, 1)),
                      ("Bo", "Squirrels are everywhere in the park.", "s1", _ts(2023, 3, 1))]
    question = "What did Ann adopt from the shelter?"
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 2"), turns, question, tmp_path)
    code = _with("prf", {"PRF_DOCS": 1, "PRF_TERMS": 3}, top_k=2)
    assert plain == ["e5"] and _recalled(code, turns, question, tmp_path) == ["e5", "e6"]


def test_multihop_follows_the_first_hop_to_the_second(tmp_path):
    turns = FILLER + [("Ann", "My cousin Marguerite moved to Lisbon last year.", "s1", _ts(2023, 3, 1)),
                      ("Ann", "Marguerite now teaches violin to children.", "s2", _ts(2023, 5, 1)),
                      ("Bo", "Lisbon has lovely trams.", "s2", _ts(2023, 5, 1))]
    question = "What does Ann's cousin who moved to Lisbon teach?"
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 2"), turns, question, tmp_path)
    code = _with("multihop", {"HOP_BREADTH": 1, "HOP_WEIGHT": 1.0}, top_k=2)
    hopped = _recalled(code, turns, question, tmp_path)
    assert "e6" not in plain and "e5" in hopped and "e6" in hopped


def test_temporal_favours_turns_on_the_date_asked(tmp_path):
    turns = [("Ann", "We went hiking in the mountains.", "s0", _ts(2023, 2, 10)),
             ("Ann", "We went hiking by the lake.", "s1", _ts(2023, 5, 20)),
             ("Ann", "We went hiking near the coast.", "s2", _ts(2023, 9, 3))]
    question = "Where did Ann go hiking in May 2023?"
    code = _with("temporal", {"TIME_WEIGHT": 2.0})
    assert _recalled(code, turns, question, tmp_path) == ["e1"]
    # asked "when" with no date: the turn that carries a time expression wins
    turns2 = [("Ann", "I love the pottery class.", "s0", 0.0), ("Ann", "I signed up for the pottery class last week.", "s0", 0.0),
              ("Ann", "The pottery class teacher is kind.", "s0", 0.0)]
    assert _recalled(code, turns2, "When did Ann sign up for the pottery class?", tmp_path) == ["e1"]


def test_entity_boost_favours_the_named_speaker(tmp_path):
    turns = [("Bo", "I am reading a novel about whales.", "s0", 0.0),
             ("Ann", "I am reading a novel about ships.", "s0", 0.0)]
    question = "What novel is Ann reading?"
    assert _recalled(_with("entities", {"ENTITY_WEIGHT": 2.0}), turns, question, tmp_path) == ["e1"]


def test_roles_favour_the_party_the_question_is_about(tmp_path):
    # the user opens both sessions; the assistant's reply shares the question's words more often
    turns = [("user", "I bought a road bike and a helmet.", "s0", 0.0),
             ("assistant", "A road bike and a helmet: which road bike did you buy, a carbon bike?", "s0", 30.0),
             ("user", "Can you suggest a bike route near Lyon?", "s1", DAY),
             ("assistant", "Try the bike route along the Saone, a bike path from Lyon to Trevoux.", "s1", DAY + 30)]
    code = _with("roles", {"ROLE_WEIGHT": 2.0})
    plain = seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1")
    mine = "Which road bike did I buy?"
    assert _recalled(plain, turns, mine, tmp_path) == ["e1"]
    assert _recalled(code, turns, mine, tmp_path) == ["e0"]  # first person: the asker's own turn
    yours = "Remind me which bike route you suggested near Lyon?"
    assert _recalled(plain, turns, yours, tmp_path) == ["e2"]
    assert _recalled(code, turns, yours, tmp_path) == ["e3"]  # what the one asked said
    # a question in the third person names nobody's role: the ranking stays as it was
    assert _recalled(code, turns, "Which road bike was bought?", tmp_path) == _recalled(
        plain, turns, "Which road bike was bought?", tmp_path)


def test_recency_favours_the_latest_of_equally_matching_turns(tmp_path):
    # bAbI's shape: Mary moves twice; "Where is Mary?" is answered by the last move alone
    turns = [("", "Mary moved to the bathroom.", "s0", 60.0), ("", "John went to the hallway.", "s0", 120.0),
             ("", "Mary travelled to the office.", "s0", 180.0), ("", "Daniel went back to the garden.", "s0", 240.0)]
    question = "Where is Mary?"
    plain = seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1")
    assert _recalled(plain, turns, question, tmp_path) == ["e0"]  # BM25 ties on "Mary": the first stored wins
    assert _recalled(_with("recency", {"RECENCY_WEIGHT": 0.5}), turns, question, tmp_path) == ["e2"]
    # the newest turn of all does not match: over a dense pool (every turn a candidate) a small weight keeps it
    # behind the matching ones, a large one lets it in — the weight trades similarity for recency
    dense = seed_source("dense_rag")
    assert _recalled(_with("recency", {"RECENCY_WEIGHT": 0.5}, top_k=2, base=dense), turns, question, tmp_path) == ["e2", "e0"]
    assert "e3" in _recalled(_with("recency", {"RECENCY_WEIGHT": 2.0}, top_k=2, base=dense), turns, question, tmp_path)
    assert _recalled(_with("recency", {"RECENCY_WEIGHT": 0.0}), turns, question, tmp_path) == ["e0"]
    # ranks come from the turns' times, not from the order they were stored in
    shuffled = [turns[2], turns[1], turns[0], turns[3]]
    assert _recalled(_with("recency", {"RECENCY_WEIGHT": 0.5}), shuffled, question, tmp_path) == ["e0"]


def test_chain_follows_the_holder_to_where_it_was_and_where_it_is(tmp_path):
    # bAbI's two-fact shape: "Where is the milk?" needs the line that moved the milk and the holder's place,
    # which shares no word with the question
    turns = [("", "Mary went to the office.", "s0", 60.0), ("", "Mary went to the kitchen.", "s0", 120.0),
             ("", "John went to the hallway.", "s0", 180.0), ("", "Mary got the milk there.", "s0", 240.0),
             ("", "Sandra went to the garden.", "s0", 300.0), ("", "Mary travelled to the bedroom.", "s0", 360.0)]
    question = "Where is the milk?"
    assert _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1"), turns, question, tmp_path) == ["e3"]
    got = _recalled(_with("chain", {"CHAIN_WEIGHT": 0.8}), turns, question, tmp_path)
    # Mary's latest place (the milk is there now) and her place when she took it; not her first, nobody else's
    assert got[0] == "e3" and sorted(got[1:]) == ["e1", "e5"]
    assert _recalled(_with("chain", {"CHAIN_WEIGHT": 0.0}), turns, question, tmp_path) == ["e3"]
    # times, not storage order, say which is latest: store the bedroom line first and it is her oldest
    moved = [(s, t, g, 30.0) if i == 5 else (s, t, g, tm) for i, (s, t, g, tm) in enumerate(turns)]
    moved = [moved[5]] + moved[:5]
    got = _recalled(_with("chain", {"CHAIN_WEIGHT": 0.8}), moved, question, tmp_path)
    assert got[:2] == ["e4", "e2"] and "e0" not in got  # the kitchen (e2 here) is her latest; the bedroom her oldest
    # a hit that names no one is followed by its content words
    things = [("", "The fridge is in the kitchen.", "s0", 60.0), ("", "The milk is in the fridge.", "s0", 120.0),
              ("", "The fridge was moved to the garage.", "s0", 180.0), ("", "The oven is hot.", "s0", 240.0)]
    got = _recalled(_with("chain", {"CHAIN_WEIGHT": 0.8}), things, question, tmp_path)
    assert got[0] == "e1" and sorted(got[1:]) == ["e0", "e2"]


def test_sessions_first_favours_the_session_about_the_topic(tmp_path):
    turns = [("Ann", "The garden needs water.", "s0", 0.0), ("Bo", "Tomatoes and basil grow there.", "s0", 0.0),
             ("Ann", "Tomatoes are in the market.", "s1", 0.0), ("Bo", "Prices went up.", "s1", 0.0),
             ("Ann", "The garden gnome broke.", "s0", 0.0)]
    question = "What grows in the garden, tomatoes?"
    code = _with("sessions", {"SESSION_TOP": 1, "SESSION_WEIGHT": 2.0})
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1"), turns, question, tmp_path)
    got = _recalled(code, turns, question, tmp_path)
    assert got != plain and got[0] in ("e0", "e1", "e4")


def test_fusion_and_rerank_change_the_ranking_for_a_reason(tmp_path):
    turns = [("Bo", f"A blue car passed by the {w}.", "s0", 0.0) for w in ("bank", "school", "shop", "park", "pier")]
    turns += [("Ann", "Sister sister sister sister!", "s1", 0.0), ("Ann", "My sister bought the blue car.", "s1", 0.0)]
    question = "Which blue car did my sister buy?"
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1"), turns, question, tmp_path)
    assert plain == ["e5"]  # BM25: the rare word, repeated, wins
    assert _recalled(_with("rerank", {"RERANK_WEIGHT": 2.0}), turns, question, tmp_path) == ["e6"]  # coverage wins
    dense = seed_source("dense_rag").replace("TOP_K = 10", "TOP_K = 2")
    assert _recalled(dense, turns, question, tmp_path) == ["e6", "e5"]
    fused = _with("fuse_bm25", {"FUSE_BM25_WEIGHT": 3.0}, base=dense)
    assert _recalled(fused, turns, question, tmp_path) == ["e5", "e6"]  # BM25's first, weighted 3:1, leads


def test_context_and_date_change_what_is_indexed(tmp_path):
    turns = [("Ann", "Where did you move?", "s0", _ts(2023, 6, 7)), ("Bo", "To Porto.", "s0", _ts(2023, 6, 7))]
    mem = _memory(_with("context"), turns, tmp_path)
    assert mem.turns[1].text.startswith("Where did you move? | ")
    mem = _memory(_with("dated"), turns, tmp_path)
    assert mem.turns[0].text.startswith("[7 June 2023]")


def test_dedupe_drops_a_repeated_turn_at_session_end(tmp_path):
    turns = [("Ann", "I adopted a cat named Tom.", "s0", 0.0), ("Ann", "I adopted a cat named Tom!", "s0", 0.0),
             ("Ann", "Dinner was late.", "s0", 0.0)]
    code = _with("dedupe", top_k=3)
    kept = _recalled(code, turns, "cat named Tom", tmp_path, Signal("session_end", session="s0"))
    assert kept == ["e0"]
    assert sorted(_recalled(code, turns, "cat named Tom", tmp_path)) == ["e0", "e1"]  # nothing before the signal


def test_dedupe_decides_the_same_whatever_the_process_hash_seed():
    """Sandboxed jobs run under `python -I`, so each has its own string-hash seed and its own set order.
    Here the new turn's three words are equally rare; which one dedupe looks up decides whether it is
    a repeat (alpha or gamma: of turn 0, Jaccard 2/3; beta: of turn 1, 1/6). The answer must not vary."""
    import subprocess
    import sys

    script = (
        "from design_space.components.manage.repeats import drop_repeats\n"
        "from design_space.components.store.bm25_index import BM25Index\n"
        "from design_space.components.store.turns import Turn, Turns\n"
        "from design_space.contract import Signal\n"
        "t, i = Turns(), BM25Index()\n"
        "for n, text in enumerate(['alpha gamma', 'beta delta epsilon zeta', 'alpha beta gamma']):\n"
        "    t.append(Turn(f'e{n}', text, 's0', 0.0, 'Ann', text)); i.add(text)\n"
        "drop_repeats(Signal('session_end', session='s0'), t, i, overlap=0.6)\n"
        "print(t.alive)\n")
    root = str(Path(__file__).resolve().parents[1])
    seen = {subprocess.run([sys.executable, "-c", script], env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": root},
                           capture_output=True, text=True, check=True).stdout.strip() for seed in range(12)}
    assert seen == {"[True, True, False]"}


def test_share_spends_only_its_share_of_the_budget_on_the_best_hits(tmp_path):
    kit = Kit()
    turns = [("Ann", f"The {w} lighthouse keeper painted the old lighthouse {w} again in spring, then walked "
                     f"along the harbour wall to the market, bought bread, fish and apples, and went home.", "s0", 0.0)
             for w in ("red", "white", "green", "yellow", "black", "grey", "blue", "pink")]
    question = "Who painted the lighthouse?"
    whole = _recalled(_with("share", {"TOKEN_SHARE": 1.0}, top_k=8), turns, question, tmp_path)
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 8"), turns, question, tmp_path)
    assert whole == plain and len(whole) == 8  # all fit in 400 tokens: a full share changes nothing
    size = kit.count_tokens(_memory(seed_source("bm25_rag"), turns, tmp_path).turns[0].text)
    for share in (0.6, 0.5):
        kept = _recalled(_with("share", {"TOKEN_SHARE": share}, top_k=8), turns, question, tmp_path)
        assert kept == plain[:len(kept)], "the share keeps the best hits, in order"
        assert 0 < len(kept) == int(share * 400) // size < 8, (share, size, kept)  # as many turns as fit, no more


def test_bm25_seed_as_a_pipeline_recalls_what_the_original_did():
    assert present(seed_source("bm25_rag")) == {"text": [], "query": [], "hits": ["neighbours"], "turns": [],
                                                "index": ["bm25"]}
    for radius in (0, 1):
        runs = [ProcessSandbox().run(Job(program=src.replace("NEIGHBOUR_RADIUS = 0", f"NEIGHBOUR_RADIUS = {radius}"),
                                         task="synthetic", fidelity="smoke")) for src in (FROZEN_BM25, seed_source("bm25_rag"))]
        assert runs[0].status == runs[1].status == "ok"
        assert runs[0].per_item == runs[1].per_item


def test_every_component_runs_in_a_sandbox_in_one_program():
    code = seed_source("bm25_rag")
    rng = random.Random(0)
    for comp in COMPONENTS.values():
        if comp.slot != "index" and comp.name != "neighbours":
            code = insert_at(code, comp.slot, comp, rng.randint(0, len(present(code)[comp.slot])))
    assert validate_source(code) == []
    res = ProcessSandbox().run(Job(program=code, task="synthetic", fidelity="smoke"))
    assert res.status == "ok" and res.metrics["recall"] > 0, res.error


def test_windows_find_a_reply_by_the_words_around_it_and_show_only_the_reply(tmp_path):
    # The reply holds the answer but none of the question's words; the turn before it holds them.
    turns = FILLER + [("Ann", "Did you finish the marathon in Lisbon?", "s1", _ts(2023, 3, 1)),
                      ("Bo", "Yes! Four hours and two minutes.", "s1", _ts(2023, 3, 1)),
                      ("Ann", "I ran a marathon once, long ago.", "s2", _ts(2023, 4, 1))]
    question = "What was Bo's time in the Lisbon marathon?"
    plain = _recalled(seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 2"), turns, question, tmp_path)
    assert "e6" not in plain
    code = _with("windows", {"WINDOW_BEFORE": 1, "WINDOW_AFTER": 0, "WINDOW_WEIGHT": 3.0}, top_k=2)
    mem = _memory(code, turns, tmp_path)
    recall = mem.retrieve(Query("q", question, _ts(2024, 1, 1), 400))
    assert [i for item in recall.items for i in item.source_ids] == ["e5", "e6"]
    assert recall.items[1].text == mem.turns[6].text and "Lisbon" not in recall.items[1].text  # the reply alone
    windows = mem.turns.cache["windows"]  # a window never crosses a session
    assert windows._text(mem.turns, 7) == turns[7][1] and windows._text(mem.turns, 5) == turns[5][1]
    assert windows._text(mem.turns, 6) == f"{turns[5][1]} {turns[6][1]}"


def test_windows_reindex_the_last_turns_when_later_turns_arrive():
    from design_space.components.retrieve.windows import match_windows
    from design_space.components.store.bm25_index import BM25Index
    from design_space.components.store.turns import Turn, Turns

    table, index = Turns(), BM25Index()

    def add(n, text, session="s0"):
        table.append(Turn(f"e{n}", text, session, 0.0, "Ann", text))
        index.add(text)

    query = Query("q", "harbour ferry", 0.0, 100)
    add(0, "Lunch was fine.")
    add(1, "Nice weather.")
    # turn 1 is the last turn: its window (after=1) holds only itself so far, and nothing matches
    assert match_windows(index.search("harbour ferry", 2), "harbour ferry", query, table, index,
                         before=0, after=1, weight=1.0) == []
    add(2, "We took the harbour ferry.")
    hits = [(2, 2.0), (0, 0.1)]  # what the index found (turn 0 a weak match)
    got = match_windows(hits, "harbour ferry", query, table, index, before=0, after=1, weight=1.0)
    assert [n for n, _ in got] == [2, 1]  # turn 1's window now holds turn 2's words; as many hits as given
    windows = table.cache["windows"]
    assert windows.turn_of.count(1) == 2 and not windows.index.alive[windows.turn_of.index(1)]  # re-indexed once
    indexed = len(windows.turn_of)
    for _ in range(5):  # questions in a row, no new turn: nothing is indexed again
        match_windows(hits, "harbour ferry", query, table, index, before=0, after=1, weight=1.0)
    assert len(windows.turn_of) == indexed
    add(3, "harbour harbour ferry ferry", session="s1")
    add(4, "Lunch again.", session="s1")  # turn 3's window is whole: indexed for good
    got = match_windows(hits, "harbour ferry", query, table, index, before=0, after=1, weight=1.0)
    assert [n for n, _ in got] == [2, 3]  # its window brings it in, ahead of turn 1
    table.remove(3)  # removed after it was indexed (a manage step): never brought in again
    got = match_windows(hits, "harbour ferry", query, table, index, before=0, after=1, weight=1.0)
    assert [n for n, _ in got] == [2, 1]
    # other knobs: the cache is rebuilt for them, not reused
    match_windows([], "harbour ferry", query, table, index, before=1, after=0)
    assert (table.cache["windows"].before, table.cache["windows"].after) == (1, 0)
