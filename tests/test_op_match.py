"""match: a child of a program that beats a seed at a little more cost, fitted to the seed's tokens."""
import random

import pytest

from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.campaign import Campaign
from evolve.config import ConfigError, OperatorConfig, parse_config
from evolve.operators import OperatorDeps, build_operators
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.match import Match, pairs
from evolve.operators.pipeline_edits import present
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

OBJ = [("recall", "max"), ("tokens", "min")]
LOCOMO = {"split": "search", "budget_tokens": 256}


def view(cid, code, recall, tokens, operator=""):
    return CandidateView(cid, code, {"recall": recall, "tokens": tokens}, operator=operator)


def test_a_pair_needs_a_program_a_little_dearer_than_the_seed_that_beats_all_at_its_tokens():
    seeds = [("s", 0.50, 200.0)]
    programs = [("cheap", 0.55, 190.0),  # at the seed's tokens already: it sets the bar
                ("near", 0.60, 210.0), ("weak", 0.54, 220.0),  # weak: no better than "cheap"
                ("far", 0.70, 300.0)]  # more than a third dearer: a cap would cut too deep
    got = {p[0]: p for p in pairs(seeds, programs)}
    assert set(got) == {"near"}
    assert got["near"][1:4] == ("s", 210.0, 200.0) and got["near"][4] == pytest.approx(0.05)
    assert {p[0] for p in pairs(seeds, programs[1:])} == {"near", "weak"}  # without "cheap" the seed is the bar
    code = seed_source("bm25_rag")
    front = [view("near", code, 0.60, 210.0), view("far", code, 0.70, 300.0), view("s", code, 0.50, 200.0, "seed:x")]
    ctx = OperatorContext(parents=[view("cheap", code, 0.55, 190.0)], front=front, references=[front[2]],
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
    for child in matched:
        assert "to seed top6's" in child.note, child.note  # the only seed with a dearer program that beats it
        assert tokens[seeds["top6"]] < tokens[child.parents[0]], child.note
        if child.id in tokens:
            assert tokens[child.id] < tokens[child.parents[0]], child.note
    assert any(tokens.get(c.id, 1e9) <= tokens[seeds["top6"]] for c in matched)
