"""match: a child of a program that beats a seed at a little more cost, fitted to the seed's tokens;
or of one that beats it at clearly less, lifted toward them."""
import random

import pytest

from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.campaign import Campaign
from evolve.config import ConfigError, OperatorConfig, parse_config
from evolve.operators import OperatorDeps, build_operators
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.knobs import read_knobs
from evolve.operators.match import Match, lift, lifts, pairs
from evolve.operators.pipeline_edits import present
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

OBJ = [("recall", "max"), ("tokens", "min")]
LOCOMO = {"split": "search", "budget_tokens": 256}


def view(cid, code, recall, tokens, operator=""):
    return CandidateView(cid, code, {"recall": recall, "tokens": tokens}, operator=operator)


def test_a_pair_needs_a_program_a_little_dearer_than_the_seed_that_beats_all_at_its_tokens():
    seeds = [("s", 0.50, 200.0)]
    programs = [("cheap", 0.55, 195.0),  # at the seed's tokens already (too near them to lift): it sets the bar
                ("near", 0.60, 210.0), ("weak", 0.54, 220.0),  # weak: no better than "cheap"
                ("far", 0.70, 300.0)]  # more than a third dearer: a cap would cut too deep
    got = {p[0]: p for p in pairs(seeds, programs)}
    assert set(got) == {"near"}
    assert got["near"][1:4] == ("s", 210.0, 200.0) and got["near"][4] == pytest.approx(0.05)
    assert {p[0] for p in pairs(seeds, programs[1:])} == {"near", "weak"}  # without "cheap" the seed is the bar
    code = seed_source("bm25_rag")
    front = [view("near", code, 0.60, 210.0), view("far", code, 0.70, 300.0), view("s", code, 0.50, 200.0, "seed:x")]
    ctx = OperatorContext(parents=[view("cheap", code, 0.55, 195.0)], front=front, references=[front[2]],
                          rng=random.Random(0))
    p = Match(OBJ, 256).propose(ctx)
    assert p.parents == ("near",) and p.meta["seed"] == "s" and 0.92 * 200 <= p.meta["target_tokens"] <= 0.99 * 200
    assert "seed x's 200.0" in p.note


def test_the_child_spends_no_more_than_the_seed_and_keeps_most_of_its_parents_lead():
    """Measured, not assumed: the seed, the parent and the child run in the process sandbox."""
    seed, parent = (seed_source("bm25_rag").replace("TOP_K = 10", f"TOP_K = {k}") for k in (6, 7))
    box = ProcessSandbox()
    runs = [box.run(Job(program=c, task="locomo", task_params=LOCOMO, fidelity="smoke")) for c in (seed, parent)]
    assert all(r.status == "ok" for r in runs), [r.error for r in runs]
    (rs, ts), (rp, tp) = [(r.metrics["recall"], r.metrics["tokens"]) for r in runs]
    assert ts < tp <= 4 / 3 * ts and rp > rs, (rs, ts, rp, tp)
    ctx = OperatorContext(parents=[view("p", parent, rp, tp)], references=[view("s", seed, rs, ts, "seed:bm25_rag")],
                          rng=random.Random(1))
    p = Match(OBJ, 256).propose(ctx)
    assert validate_source(p.code) == [] and present(p.code)["hits"][-1] == "share"
    child = box.run(Job(program=p.code, task="locomo", task_params=LOCOMO, fidelity="smoke"))
    assert child.status == "ok", child.error
    assert 0.85 * ts <= child.metrics["tokens"] <= ts, (child.metrics, ts)
    assert child.metrics["recall"] > rs, (child.metrics, rs)  # here it keeps its lead: beats the seed at its cost


def test_a_lift_needs_the_best_program_at_the_seeds_tokens_to_beat_it_with_room_to_spare():
    seeds = [("s", 0.50, 200.0)]
    assert lifts(seeds, [("a", 0.60, 170.0), ("b", 0.55, 190.0), ("c", 0.70, 300.0)]) == [
        ("a", "s", 170.0, 200.0, pytest.approx(0.60 / 170 * 28))]  # the best at ≤ 200 tokens, not the best overall
    # the lead: the room to 99 % of the seed's tokens at the slope from the best cheaper program, not
    # the lead over the seed (a seed that recalls nothing would draw every lift toward itself)
    front = [("a", 0.60, 170.0), ("x", 0.58, 150.0), ("y", 0.40, 100.0)]
    assert lifts(seeds, front)[0][4] == pytest.approx(0.02 / 20 * 28)
    assert lifts([("s", 0.0, 200.0)], front)[0][4] == pytest.approx(0.02 / 20 * 28)
    assert lifts(seeds, [("a", 0.60, 170.0), ("b", 0.60, 160.0)])[0][0] == "b"  # a tie: the cheaper
    assert lifts(seeds, [("c2", 0.60, 170.0), ("c1", 0.60, 170.0)])[0][0] == "c1"  # then the first
    assert lifts(seeds, [("a", 0.60, 196.0)]) == []  # already within 3 % of the seed: trimming's ground
    assert lifts(seeds, [("a", 0.60, 140.0)]) == []  # under three quarters: one more item would not reach it
    assert lifts(seeds, [("a", 0.45, 170.0)]) == []  # does not beat the seed
    assert lifts(seeds, [("a", 0.60, 170.0), ("b", 0.65, 195.0)]) == []  # the best sits at the seed's tokens


def knobs(code):
    return {k.name: k.value for k in read_knobs(code)}


def test_a_lift_raises_a_binding_share_else_top_k_capped_below_the_seed():
    base = seed_source("bm25_rag")  # TOP_K 10, no share
    code, change = lift(base, 170.0, 190.0, 198.0, 256)  # 11 items: about 187 tokens, under the ceiling
    assert change == "TOP_K 10 -> 11" and knobs(code)["TOP_K"] == 11 and "share" not in present(code)["hits"]
    code, change = lift(base, 190.0, 195.0, 198.0, 256)  # 11 items: about 209 tokens, capped with share
    assert knobs(code)["TOP_K"] == 11 and present(code)["hits"][-1] == "share"
    assert knobs(code)["TOKEN_SHARE"] < (209.0 + 0.05 * 256) / 256 and change.startswith("TOP_K 10 -> 11, insert share")
    capped, _ = lift(base, 190.0, 195.0, 198.0, 256)
    binding = capped.replace(f"TOKEN_SHARE = {knobs(capped)['TOKEN_SHARE']}", "TOKEN_SHARE = 0.7")
    code, change = lift(binding, 0.7 * 256, 190.0, 198.0, 256)  # the share binds: raise it, keep TOP_K
    assert knobs(code)["TOP_K"] == 11 and 0.7 < knobs(code)["TOKEN_SHARE"] <= 1.0, change
    assert change.startswith("TOKEN_SHARE 0.7 -> ")
    loose = binding.replace("TOKEN_SHARE = 0.7", "TOKEN_SHARE = 0.95")  # caps nothing at 150 tokens: TOP_K goes up
    assert lift(loose, 150.0, 190.0, 198.0, 256)[1].startswith("TOP_K 11 -> 12")
    with pytest.raises(OperatorError, match="TOP_K"):
        lift(base.replace("TOP_K = 10", "TOP_K = 40"), 150.0, 190.0, 198.0, 256)


def test_a_lifted_child_spends_more_than_its_parent_and_no_more_than_the_seed():
    """Measured, not assumed: BM25 with five items beats the dense seed (hashing embedder) at fewer
    tokens; its lifted child, run in the process sandbox, spends more, at no more than the seed."""
    parent = seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 5")
    box = ProcessSandbox()
    runs = [box.run(Job(program=c, task="locomo", task_params=LOCOMO, fidelity="smoke"))
            for c in (seed_source("dense_rag"), parent)]
    assert all(r.status == "ok" for r in runs), [r.error for r in runs]
    (rs, ts), (rp, tp) = [(r.metrics["recall"], r.metrics["tokens"]) for r in runs]
    assert 0.75 * ts <= tp < 0.97 * ts and rp > rs, (rs, ts, rp, tp)
    m = Match(OBJ, 256)
    ctx = OperatorContext(parents=[view("p", parent, rp, tp)], references=[view("s", seed_source("dense_rag"), rs, ts,
                                                                                "seed:dense_rag")],
                          rng=random.Random(2))
    p = m.propose(ctx)
    assert p.meta["lift"] and p.parents == ("p",) and "up to seed dense_rag's" in p.note, p.note
    assert max(tp, 0.92 * ts) <= p.meta["target_tokens"] <= 0.99 * ts
    assert validate_source(p.code) == [] and knobs(p.code)["TOP_K"] == 6
    child = box.run(Job(program=p.code, task="locomo", task_params=LOCOMO, fidelity="smoke"))
    assert child.status == "ok", child.error
    assert tp < child.metrics["tokens"] <= ts and child.metrics["recall"] >= rp, (child.metrics, tp, ts)
    with pytest.raises(OperatorError, match="beats a seed"):  # lifted once: the pair is spent
        m.propose(ctx)
    with pytest.raises(OperatorError, match="beats a seed"):  # lifting turned off
        build_operators([OperatorConfig(name="match", params={"lift": False})],
                        OperatorDeps(objectives=OBJ, token_budget=256))[0][0].propose(ctx)


def test_refusals_name_the_cause():
    base = seed_source("bm25_rag")
    s = view("s", base, 0.5, 200.0, "seed:bm25_rag")
    for front, words in (([], "beats a seed"),  # nothing dearer than the seed
                         ([view("b", base, 0.45, 220.0)], "beats a seed"),  # dearer but weaker
                         ([view("b", seed_source("hipporag"), 0.6, 220.0)], "hits slot")):  # no hits slot
        ctx = OperatorContext(parents=[view("a", base, 0.1, 40.0)], front=front, references=[s], rng=random.Random(0))
        with pytest.raises(OperatorError, match=words):
            Match(OBJ, 256).propose(ctx)
    for objectives, budget, words in (([("recall", "max"), ("latency_ms", "min")], 256, "tokens"),
                                      ([("tokens", "min")], 256, "maximise"), (OBJ, 0, "budget")):
        with pytest.raises(ConfigError, match=f"operators.match.params: .*{words}"):
            build_operators([OperatorConfig(name="match")], OperatorDeps(objectives=objectives, token_budget=budget))
    with pytest.raises(ConfigError, match="operators.match.params: match: lift must be true or false, not 'no'"):
        build_operators([OperatorConfig(name="match", params={"lift": "no"})], OperatorDeps(objectives=OBJ, token_budget=256))


def test_a_campaign_shows_match_its_seeds_and_fits_children_to_them(tmp_path, local_ray):
    """Two seeds a turn apart on LoCoMo: the dearer one beats the cheaper one, so `match` has a pair
    from its first proposal, and its children, measured, spend less than their parents."""
    for k in (6, 7):
        (tmp_path / f"top{k}.py").write_text(seed_source("bm25_rag").replace("TOP_K = 10", f"TOP_K = {k}"))
    cfg = parse_config({
        "name": "match", "seed": 5,
        "task": {"name": "locomo", "params": LOCOMO, "cascade": ["smoke"]},
        "seeds": ["top6.py", "top7.py"],
        "operators": [{"name": "structural", "weight": 1.0}, {"name": "match", "weight": 2.0}],
        "budget": {"evaluations": 8}, "parallel": 2, "reproducible": True,
    })
    campaign = Campaign.create(cfg, tmp_path / "runs", config_dir=tmp_path)
    campaign.run()
    store = campaign.store
    seeds = {c.operator.removeprefix("seed:"): c.id for c in store.candidates() if c.operator.startswith("seed:")}
    measured = {c.id: store.evaluation(c.id, "smoke") for c in store.candidates()}
    tokens = {c: e.metrics["tokens"] for c, e in measured.items() if e is not None and e.status == "ok"}
    assert tokens[seeds["top6"]] < tokens[seeds["top7"]]
    matched = [c for c in store.candidates() if c.operator == "match"]
    assert matched, [(c.operator, c.note) for c in store.candidates()]
    fitted = [c for c in matched if not c.meta.get("lift")]
    for child in fitted:
        assert "to seed top6's" in child.note, child.note  # the only seed with a dearer program that beats it
        assert tokens[seeds["top6"]] < tokens[child.parents[0]], child.note
        if child.id in tokens:
            assert tokens[child.id] < tokens[child.parents[0]], child.note
    assert any(tokens.get(c.id, 1e9) <= tokens[seeds["top6"]] for c in fitted)
    assert any(c.meta.get("lift") for c in matched)  # a fitted child beats top6 at clearly fewer tokens
    for child in matched:
        if child.meta.get("lift"):  # a fitted child that beats a seed below its tokens is lifted toward them
            assert "up to seed top" in child.note and tokens[child.parents[0]] < 0.97 * tokens[seeds["top6"]], child.note
            if child.id in tokens:
                assert tokens[child.id] >= tokens[child.parents[0]], child.note
