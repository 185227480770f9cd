"""Each seed's defining mechanism is what answers: with it turned off, or with the seed replaced by
a plain baseline (BM25 / dense RAG), a crafted stream gets a different answer.

Every test runs the seed and its ablation in-process on the same events and asserts both sides:
the seed returns the evidence its paper says it should, and the ablation does not. A test the
baseline also passed would prove nothing about the mechanism.
"""
from __future__ import annotations

import pickle

from design_space.contract import Event, Query, Signal
from design_space.embedders import HashingEmbedder
from design_space.kit import Kit
from design_space.seeds import seed_source
from evolve.operators.knobs import write_knobs
from sandboxes.harness import load_program

DAY = 86400.0
T0 = 1_700_000_000.0


def build(name: str, tmp_path, knobs: dict | None = None, kit: Kit | None = None):
    """A fresh instance of the seed, with some knobs rewritten (the ablation) if given."""
    source = seed_source(name)
    if knobs:
        source = write_knobs(source, knobs)
    workdir = tmp_path / f"{name}-{abs(hash(tuple(sorted((knobs or {}).items()))))}"
    workdir.mkdir(exist_ok=True)
    return load_program(source, str(workdir))(kit or Kit())


def feed(mem, texts, start=T0, step=60.0, prefix="e", session="s0", meta=None, first=0):
    ids = []
    for i, text in enumerate(texts, first):
        eid = f"{prefix}{i}"
        mem.store(mem.encode(Event(eid, text, start + i * step, "user", session, dict(meta[i - first]) if meta else {})))
        ids.append(eid)
    return ids


def ask(mem, text, when=T0 + DAY, budget=200, meta=None) -> list[str]:
    recall = mem.retrieve(Query("q", text, when, budget, meta or {}))
    return [i for item in recall.items for i in item.source_ids]


def both(name, tmp_path, texts, question, ablation: dict | str, budget=200, when=T0 + DAY, **feed_kw):
    """(seed's answer, ablation's answer): the ablation is a knob dict or a baseline seed's name."""
    seed = build(name, tmp_path)
    other = build(ablation, tmp_path) if isinstance(ablation, str) else build(name, tmp_path, ablation)
    out = []
    for mem in (seed, other):
        feed(mem, texts, **feed_kw)
        mem.manage(Signal("session_end", when - 1, "s0"))
        out.append(ask(mem, question, when, budget))
    return out


# --- full context and recency: what is returned is the end of the conversation, not a match


def test_full_context_shows_the_end_of_the_transcript_in_order(tmp_path):
    texts = [f"turn number {i} about the garden" for i in range(40)] + ["Ok, I will bring the wine tonight."]
    seed, cut_end = both("full_context", tmp_path, texts, "What did I just promise?", {"KEEP_NEWEST": False}, 40)
    assert seed[-1] == "e40" and seed == sorted(seed, key=lambda s: int(s[1:]))
    assert "e40" not in cut_end and cut_end[0] == "e0"  # a window cut at the end loses the newest turn
    bm25 = both("full_context", tmp_path, texts, "What did I just promise?", "bm25_rag", 40)[1]
    assert "e40" not in bm25  # no keyword of the question is in the answer


def test_recency_window_returns_the_latest_turn_for_a_question_with_no_keyword(tmp_path):
    texts = ["We talked about the garden and roses."] * 5 + ["Ok, I will bring the wine tonight."]
    seed, bm25 = both("recency_window", tmp_path, texts, "What did I just promise?", "bm25_rag", 12)
    assert seed == ["e5"]
    assert "e5" not in bm25
    texts = ["Ok, I will bring the wine tonight."] + [f"filler turn {i}" for i in range(10)]
    seed = both("recency_window", tmp_path, texts, "wine", "bm25_rag", 200)[0]
    small = build("recency_window", tmp_path, {"WINDOW": 5})
    feed(small, texts)
    assert "e0" in seed and "e0" not in ask(small, "wine")  # the window bounds what is kept


# --- sparse and dense retrieval


def test_bm25_ranks_the_rare_word_above_turns_that_repeat_a_common_one(tmp_path):
    texts = [f"Which cat was the grey one, number {i}?" for i in range(8)] + [
        "Yesterday afternoon at the zoo near the old fence by the lake we finally saw an ocelot."]
    seed, dense = both("bm25_rag", tmp_path, texts, "Which cat was the ocelot?", "dense_rag", 25)
    assert seed[0] == "e8"  # inverse document frequency: 'ocelot' outweighs the common 'cat'
    assert dense[0] != "e8"


def test_dense_matches_a_quotation_made_of_words_keyword_search_drops(tmp_path):
    texts = ["Farid repaired his bicycle chain.", "Hamlet: to be or not to be, that is the question.",
             "We watched the eclipse from the roof."]
    seed, bm25 = both("dense_rag", tmp_path, texts, "to be or not to be", "bm25_rag", 20)
    assert seed[0] == "e1"  # the embedding keeps function words and their order
    assert "e1" not in bm25  # every word of the query is a stop-word to BM25


def test_hybrid_returns_what_each_retriever_alone_misses(tmp_path):
    texts = ["Hamlet: to be or not to be, that is the question.",
             "Yorick's skull was dug up by the gravedigger in the churchyard at dawn, wet with rain and mud."]
    texts += [f"It was {w} to be out, or not to be out, at night." for w in
              ("nice", "fine", "odd", "late", "early", "silly", "cold", "warm", "dark", "calm", "wise", "rude")]
    question = "Who said to be or not to be over the skull?"
    hybrid, bm25 = both("hybrid_rrf", tmp_path, texts, question, "bm25_rag", 40)
    dense = both("hybrid_rrf", tmp_path, texts, question, "dense_rag", 40)[1]
    assert set(hybrid[:2]) == {"e0", "e1"}  # each is first in one ranking: fusion puts both on top
    assert "e0" not in bm25  # only stop-words and word order match it
    assert "e1" not in dense  # the phrase-alike turns outrank it


# --- MemoryBank: retention orders memories


def test_memorybank_ranks_a_reinforced_memory_above_an_equally_relevant_faded_one(tmp_path):
    texts = ["Anna's tortoise Olive eats strawberries.", "Anna's tortoise Olive eats dandelions and kale leaves."]
    question = "What does Anna's tortoise Olive eat? dandelions kale"
    answers = []
    for mem in (build("memorybank", tmp_path), build("memorybank", tmp_path, {"RETENTION_WEIGHT": 0.0}),
                build("dense_rag", tmp_path)):
        feed(mem, texts)
        for day in (2, 5, 9, 14):  # Olive's strawberries keep being recalled; the kale turn never is
            mem.retrieve(Query("r", "strawberries", T0 + day * DAY, 12))  # room for that turn alone
        answers.append(ask(mem, question, T0 + 20 * DAY, budget=14))
    seed, relevance_only, dense = answers
    assert seed == ["e0"]  # stronger and recently recalled: better retained, so it comes first
    assert relevance_only == ["e1"] and dense == ["e1"]


# --- Generative Agents: a reflection answers a question about a pattern


def test_generative_agents_retrieves_its_reflection_for_a_question_about_the_pattern(tmp_path):
    texts = [f"Kemal went climbing at the {w} gym." for w in ("north", "river", "old", "city", "harbour", "hill")]
    texts += [f"Kemal bought {w} chalk and new ropes." for w in ("white", "blue")]
    texts += [f"The {w} weather was grey." for w in ("morning", "evening")] * 6
    question = "What does Kemal do in his free time?"
    seed = build("generative_agents", tmp_path, {"REFLECT_THRESHOLD": 20.0})
    flat = build("generative_agents", tmp_path, {"REFLECT_THRESHOLD": 1e9})
    found = []
    for mem in (seed, flat):
        feed(mem, texts)
        found.append(mem.retrieve(Query("q", question, T0 + DAY, 60)).items)
    assert not [o for o in flat.stream if o.kind == "reflection"]
    top = found[0][0]
    assert top.text.startswith("About Kemal") and len(top.source_ids) >= 4  # the insight ranks first
    assert len(found[1][0].source_ids) == 1  # without reflection: one observation at a time


# --- Mem0: the newest fact replaces the old one


def test_mem0_answers_with_the_newest_fact_only(tmp_path):
    texts = ["Anna lives in Lisbon.", "The weather is nice.", "Anna moved to Oslo last month."]
    seed, dense = both("mem0", tmp_path, texts, "Where does Anna live?", "dense_rag", 200)
    assert seed[0] == "e2" and "e0" not in seed  # UPDATE superseded the Lisbon fact
    assert "e0" in dense and dense.index("e0") < dense.index("e2")  # a turn index keeps both, old one first


# --- A-MEM: link following


def test_a_mem_follows_a_link_to_a_note_the_question_does_not_match(tmp_path):
    texts = ["Nadia adopted a ferret called Ziggy.", "Ziggy steals socks at night.", "Marco baked bread on Sunday.",
             "The train to Lyon was late again.", "I repainted the kitchen.", "Bruno fixed the kitchen sink.",
             "Chloe drove to the coast.", "We watched the eclipse from the roof.",
             "The bakery on Elm street sells rye bread.", "Lena knits scarves in winter."]
    question = "Did Nadia adopt a pet?"
    seed, unlinked = both("a_mem", tmp_path, texts, question, {"LINKS_PER_NOTE": 0}, 30)
    dense = both("a_mem", tmp_path, texts, question, "dense_rag", 30)[1]
    assert seed[0] == "e0" and "e1" in seed
    assert "e1" not in unlinked and "e1" not in dense


# --- MemGPT: core memory survives eviction


def test_memgpt_core_memory_keeps_the_fact_after_the_turn_is_evicted(tmp_path):
    texts = ["Omar works as a pilot.", "Omar now works as a chemist."]
    texts += [f"Omar said the traffic on road {i} was bad again today." for i in range(150)]
    question = "What is Omar's job?"
    seed, window = both("memgpt", tmp_path, texts, question, "recency_window", 40)
    dense = both("memgpt", tmp_path, texts, question, "dense_rag", 40)[1]
    bm25 = both("memgpt", tmp_path, texts, question, "bm25_rag", 40)[1]
    mem = build("memgpt", tmp_path)
    feed(mem, texts)
    assert "e1" in {i for item in mem.tiers.archived for i in item.source_ids}  # the turn itself was evicted
    assert seed[0] == "e1"  # core memory, always in context, holds the newest job
    assert "e1" not in window and "e1" not in dense  # the queue lost it; a search over turns drowns it
    assert bm25.index("e0") < bm25.index("e1")  # keyword search puts the old job first


# --- HippoRAG: the graph answers what shares no word with the question


STORY = ["Anna has a dog called Rex.", "Bruno has a cat called Miso.", "Miso sleeps on the sofa all day.",
         "Rex absolutely loves eating carrots.", "The dog park was crowded on Sunday.",
         "Chloe drove to the coast.", "I watched a documentary about whales."]


def test_hipporag_reaches_evidence_that_shares_no_word_with_the_question(tmp_path):
    question = "What does Anna's dog like to eat?"
    seed, no_walk = both("hipporag", tmp_path, STORY, question, {"DAMPING": 0.0}, 40)
    bm25 = both("hipporag", tmp_path, STORY, question, "bm25_rag", 40)[1]
    dense = both("hipporag", tmp_path, STORY, question, "dense_rag", 40)[1]
    assert "e3" in seed and "e0" in seed  # Anna -> e0 -> Rex -> e3
    assert "e3" not in no_walk and "e3" not in bm25 and "e3" not in dense


def test_hipporag_synonym_edges_join_two_names_for_one_person(tmp_path):
    texts = ["Ines Moreau teaches cello to Priya.", "Dr Ines Moreau lives in Porto.",
             "Bruno fixed the kitchen sink.", "Chloe drove to the coast."]
    question = "Where does Priya's teacher live?"
    seed, no_synonyms = both("hipporag", tmp_path, texts, question, {"SYNONYM_THRESHOLD": 1.01}, 30)
    bm25 = both("hipporag", tmp_path, texts, question, "bm25_rag", 30)[1]
    assert "e1" in seed  # Priya -> e0 -> 'ines moreau' ~ 'dr ines moreau' -> e1
    assert "e1" not in no_synonyms and "e1" not in bm25


def test_hipporag_nodes_are_phrases_not_every_word(tmp_path):
    mem = build("hipporag", tmp_path)
    feed(mem, ["On 7 May 2023 Tara bought 3 goats for the farm near Lyon."])
    names = {n[1] for n in mem.graph.graph.nodes if n[0] == "e"}
    assert {"7 may 2023", "tara", "lyon", "3 goats", "farm"} <= names
    assert not names & {"bought", "near", "on", "for"}


# --- Titans: a bounded neural memory decides what is returned


def test_titans_stays_within_its_budget_on_a_long_stream_and_forgets_the_oldest(tmp_path):
    kit = Kit(embedder=HashingEmbedder(64))  # small keys keep 10,000 test-time updates quick
    texts = [f"Note {i}: the {('red', 'blue', 'green', 'old', 'new')[i % 5]} box {i} holds item {i * 31 % 997} "
             f"for client {i % 53}." for i in range(10_000)]
    mem = build("titans", tmp_path, kit=kit)
    sizes = []
    for start in range(0, 10_000, 2_000):
        feed(mem, texts[start:start + 2_000], first=start)
        mem.manage(Signal("session_end", T0 + DAY, "s0"))
        sizes.append(len(pickle.dumps(mem.memory)))
    slots = mem.memory.slots
    assert len(mem.memory) <= slots and mem.memory.writes == 10_000 and mem.memory.evicted >= 10_000 - slots
    assert max(sizes) - min(sizes) < 0.05 * min(sizes)  # the state does not grow with the stream
    assert len(mem.pending) < 100 and len(mem.recent) <= 2
    early = [i for i in range(0, 200, 10) if f"e{i}" in ask(mem, texts[i])]
    late = [i for i in range(9_900, 10_000, 5) if f"e{i}" in ask(mem, texts[i], budget=80)]
    assert early == [] and len(late) >= 15  # old, never-repeated notes are gone; recent ones are recalled
    dense = build("dense_rag", tmp_path, kit=Kit(embedder=HashingEmbedder(64)))
    feed(dense, texts[:2_000])
    assert all(f"e{i}" in ask(dense, texts[i]) for i in range(0, 200, 10))  # kNN keeps everything


def test_titans_recall_comes_from_the_trained_memory(tmp_path):
    texts = [f"Guest {i} ordered dish number {i * 7 % 101} with sauce {i % 13} at table {i % 17}." for i in range(150)]
    probes = range(0, 150, 10)
    hits = {}
    for label, knobs in (("seed", None), ("untrained", {"LEARNING_RATE": 0.0})):
        mem = build("titans", tmp_path, knobs)
        feed(mem, texts)
        mem.manage(Signal("session_end", T0 + DAY, "s0"))
        hits[label] = sum(ask(mem, texts[i], budget=30)[:1] == [f"e{i}"] for i in probes)
    assert hits["seed"] >= 12 and hits["untrained"] <= 2


def test_titans_surprise_gate_spends_no_slot_on_a_repeat(tmp_path):
    texts = ["Anna lives in Oslo with her parrot Pepper."] * 20 + [f"Fact {i}: {w} is a fine word." for i, w in
                                                                   enumerate(("plum", "kiwi", "fig", "lime"))]
    gated, ungated = build("titans", tmp_path, {"SLOTS": 8}), build("titans", tmp_path, {"SLOTS": 8,
                                                                                         "SURPRISE_THRESHOLD": 0.0})
    for mem in (gated, ungated):
        feed(mem, texts)
        mem.manage(Signal("session_end", T0 + DAY, "s0"))
    assert (gated.memory.writes, gated.memory.skipped) == (5, 19)
    assert ungated.memory.writes == 24 and ungated.memory.evicted > 0
    assert ask(gated, "Where does Anna live with Pepper?", budget=12)[:1] == ["e0"]  # the first, surprising mention
    assert ask(ungated, "Where does Anna live with Pepper?", budget=12)[:1] != ["e0"]


# --- experience seeds


def _labelled(pairs):
    return [t for t, _ in pairs], [{"label": label} for _, label in pairs]


def test_exp_exemplar_recalls_the_rare_word_exemplar_that_dense_alone_misses(tmp_path):
    texts, meta = _labelled([(f"please help me with my card {i} today", "card_help") for i in range(6)]
                            + [("the ATM swallowed it after a long wait in the rain", "card_swallowed")])
    question = "help my card swallowed"
    seed, dense_only = both("exp_exemplar", tmp_path, texts, question, {"SPARSE_WEIGHT": 0.0}, 14, meta=meta)
    assert seed[0] == "e6" and dense_only[0] != "e6"


def test_exp_hard_evicts_the_exemplar_feedback_proved_wrong(tmp_path):
    texts, meta = _labelled([("refund for my broken phone", "refund"), ("refund for my broken laptop", "repair"),
                             ("cancel my order now", "cancel"), ("where is my parcel", "track")])
    answers = []
    for knobs in (None, {"EVICT_OLDEST": True}):
        mem = build("exp_hard", tmp_path, {**(knobs or {}), "CAPACITY": 3, "KEEP_EASY": True, "TOP_K": 2})
        feed(mem, texts[:3], meta=meta[:3])
        for _ in range(3):  # both refund exemplars are recalled; feedback says the answer was 'refund'
            ask(mem, "refund for my broken tablet")
            mem.manage(Signal("feedback", T0, "s0", {"label": "refund"}))
        feed(mem, texts[3:], meta=meta[3:], prefix="f")
        answers.append(set(mem.kept))
    seed, fifo = answers
    assert "e0" in seed and "e1" not in seed  # the unhelpful 'repair' exemplar went
    assert "e0" not in fifo  # oldest-first eviction dropped the helpful one


def test_exp_insights_generalises_over_many_examples_where_the_nearest_one_misleads(tmp_path):
    texts, meta = _labelled([(f"my {w} card was declined at the shop", "declined") for w in
                             ("blue", "gold", "new", "old", "work")]
                            + [("the coffee machine at the shop near the station is broken", "complaint")])
    question = "declined at the coffee machine near the station"
    seed, exemplar = both("exp_insights", tmp_path, texts, question, "exp_exemplar", 60, meta=meta)
    assert seed[0] in {f"e{i}" for i in range(5)}  # the rule 'declined -> declined' ranks first
    assert exemplar[0] == "e5"


def test_exp_prototypes_answers_by_class_mean_not_by_one_outlier(tmp_path):
    pairs = [(f"I want to move money {w} to my savings account", "transfer") for w in
             ("now", "today", "fast", "please", "again")]
    pairs += [(f"my card {w} was lost on the bus", "lost_card") for w in ("yesterday", "today", "again")]
    pairs += [("move money to savings, please", "lost_card")]  # one mislabelled outlier
    texts, meta = _labelled(pairs)
    question = "move money to savings"
    protos = build("exp_prototypes", tmp_path, {"TOP_K": 1})
    nearest = build("exp_exemplar", tmp_path, {"TOP_K": 1, "SPARSE_WEIGHT": 0.0})
    recalls = []
    for mem in (protos, nearest):
        feed(mem, texts, meta=meta)
        recalls.append(mem.retrieve(Query("q", question, T0 + DAY, 60)).items[0].text)
    assert recalls[0].startswith("transfer:")
    assert recalls[1].endswith("-> lost_card")
    assert protos.sums.shape[0] == 2  # one vector per answer, not per example


def test_exp_recent_follows_a_drifted_answer(tmp_path):
    pairs = [(f"reset my password {i}", "old_portal") for i in range(10)]
    pairs += [(f"reset my password {i}", "new_app") for i in range(10, 20)]
    texts, meta = _labelled(pairs)
    recent = build("exp_recent", tmp_path, {"WINDOW": 10})
    exemplar = build("exp_exemplar", tmp_path)
    labels = []
    for mem in (recent, exemplar):
        feed(mem, texts, meta=meta)
        labels.append([it.text.rsplit("-> ", 1)[1] for it in mem.retrieve(Query("q", "reset my password", T0, 80)).items])
    assert labels[0] and set(labels[0]) == {"new_app"}
    assert "old_portal" in labels[1]
