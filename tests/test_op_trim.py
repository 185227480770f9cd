"""trim: a child of the program above the front's widest token gap, spending tokens inside it."""
import random

import pytest

from design_space.catalogue import COMPONENTS
from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.campaign import Campaign
from evolve.config import ConfigError, OperatorConfig, parse_config
from evolve.operators import OperatorDeps, build_operators
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.knobs import read_knobs
from evolve.operators.pipeline_edits import insert_at, present, slots
from evolve.operators.structural_edits import add_neighbours, has_step
from evolve.operators.trim import Trim, gaps, share_for
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

OBJ = [("recall", "max"), ("tokens", "min")]
LOCOMO = {"split": "search", "budget_tokens": 256}


def view(cid, code, recall, tokens):
    return CandidateView(cid, code, {"recall": recall, "tokens": tokens})


def share_of(code):
    return {k.name: k.value for k in read_knobs(code)}.get("TOKEN_SHARE")


def test_gaps_are_weighted_by_the_step_area_and_the_widest_is_picked_most():
    pts = [("lo", 0.2, 50.0), ("mid", 0.3, 60.0), ("top", 0.6, 240.0), ("same", 0.3, 70.0)]  # "same": no gain
    got = {g[0]: g for g in gaps(pts)}
    assert set(got) == {"lo", "mid", "top"}
    assert got["lo"][1:] == (50.0, 0.0, pytest.approx(50.0 * 0.2))  # below the cheapest: the empty recall
    assert got["top"][1:3] == (240.0, 70.0) and got["top"][3] == pytest.approx(170.0 * 0.3)
    assert got["mid"][3] == pytest.approx(10.0 * 0.1)
    code = seed_source("bm25_rag")
    front = [view("lo", code, 0.2, 50.0), view("mid", code.replace("TOP_K = 10", "TOP_K = 3"), 0.3, 60.0),
             view("top", code.replace("TOP_K = 10", "TOP_K = 9"), 0.6, 240.0)]
    op = Trim(OBJ, 256)
    picked = [op.propose(OperatorContext(parents=[front[0]], front=front[1:], rng=random.Random(i))).parents[0]
              for i in range(100)]
    # weights 51 : 10 : 1 for top : lo : mid
    assert picked.count("top") >= 70 and picked.count("mid") <= 8, [picked.count(c) for c in ("top", "lo", "mid")]


def test_the_child_spends_fewer_tokens_than_its_parent_and_loses_little():
    """Measured, not assumed: the parent and its trimmed child run in the process sandbox."""
    parent = seed_source("bm25_rag")
    box = ProcessSandbox()
    run = box.run(Job(program=parent, task="locomo", task_params=LOCOMO, fidelity="smoke"))
    assert run.status == "ok", run.error
    t, r = run.metrics["tokens"], run.metrics["recall"]
    lower = view("low", parent.replace("TOP_K = 10", "TOP_K = 2"), r * 0.3, t * 0.2)
    p = Trim(OBJ, 256).propose(OperatorContext(parents=[lower], front=[view("top", parent, r, t)],
                                               rng=random.Random(3)))
    assert p.parents == ("top",) and p.operator == "trim" and validate_source(p.code) == []
    assert present(p.code)["hits"] == ["neighbours", "share"]  # last, so nothing after it adds tokens
    assert t * 0.75 <= p.meta["target_tokens"] < t
    child = box.run(Job(program=p.code, task="locomo", task_params=LOCOMO, fidelity="smoke"))
    assert child.status == "ok", child.error
    assert 0.7 * t < child.metrics["tokens"] < t
    assert child.metrics["recall"] > lower.metrics["recall"]  # inside the gap: above the point below it


def test_a_last_share_is_set_from_the_budget_and_one_before_an_expansion_is_scaled_in_place():
    base = seed_source("bm25_rag")
    last = insert_at(base, "hits", COMPONENTS["share"], len(slots(base)["hits"].calls)).replace(
        "TOKEN_SHARE = 0.9", "TOKEN_SHARE = 0.95")
    p, old, new = share_for(last, 230.0, 200.0, 256)
    assert present(p)["hits"] == ["neighbours", "share"] and old == 0.95
    assert new == pytest.approx(230 / 256 + 0.05 - 30 / 256, abs=0.001)  # where the cap binds, minus the cut
    # before `neighbours`: it caps the hits, which are then expanded, so its value scales with the tokens
    first = insert_at(base, "hits", COMPONENTS["share"], 0).replace("TOKEN_SHARE = 0.9", "TOKEN_SHARE = 0.7")
    p, old, new = share_for(first, 230.0, 200.0, 256)
    assert present(p)["hits"] == ["share", "neighbours"] and p.count("share_budget(") == 1
    assert (old, new) == (0.7, round(0.7 * 200 / 230, 3)) and share_of(p) == new
    low = view("low", base.replace("TOP_K = 10", "TOP_K = 2"), 0.1, 40.0)
    for code in (last, first):
        p = Trim(OBJ, 256).propose(OperatorContext(parents=[low], front=[view("top", code, 0.5, 230.0)],
                                                   rng=random.Random(0)))
        assert 0.5 <= share_of(p.code) < share_of(code) and validate_source(p.code) == []


def test_a_program_that_expands_after_its_hits_has_its_share_scaled_and_without_one_is_refused():
    """An added neighbours step wraps the pipeline and appends turns after the hits slot: a share
    appended to hits would cap only what it expands."""
    rng = random.Random(0)
    base = seed_source("bm25_rag")
    wrapped = None
    for _ in range(50):
        got = add_neighbours(base, rng)
        if got is not None:
            wrapped = got[0]
            break
    assert wrapped is not None and has_step(wrapped, "neighbours") and not has_step(base, "neighbours")
    with pytest.raises(OperatorError, match="adds turns after its hits slot"):
        share_for(wrapped, 230.0, 200.0, 256)
    capped = insert_at(wrapped, "hits", COMPONENTS["share"], len(slots(wrapped)["hits"].calls)).replace(
        "TOKEN_SHARE = 0.9", "TOKEN_SHARE = 0.6")
    p, old, new = share_for(capped, 230.0, 200.0, 256)
    assert (old, new) == (0.6, round(0.6 * 200 / 230, 3)) and validate_source(p) == []
    with pytest.raises(OperatorError, match="lowest"):
        share_for(capped.replace("TOKEN_SHARE = 0.6", "TOKEN_SHARE = 0.5"), 230.0, 200.0, 256)


def test_refusals_name_the_cause():
    base = seed_source("bm25_rag")
    useless = OperatorContext(parents=[view("a", base, 0.0, 230.0)], rng=random.Random(0))
    with pytest.raises(OperatorError, match="no gap"):  # recalls nothing: no step below it
        Trim(OBJ, 256).propose(useless)
    graph = OperatorContext(parents=[view("a", seed_source("recency_window"), 0.1, 40.0)],
                            front=[view("b", seed_source("hipporag"), 0.5, 230.0)], rng=random.Random(0))
    with pytest.raises(OperatorError, match="pipeline"):  # hipporag keeps its own retrieval: no hits slot
        Trim(OBJ, 256).propose(graph)
    for objectives, budget, words in (([("recall", "max"), ("latency_ms", "min")], 256, "tokens"),
                                      ([("tokens", "min")], 256, "maximise"), (OBJ, 0, "budget")):
        with pytest.raises(ConfigError, match=f"operators.trim.params: .*{words}"):
            build_operators([OperatorConfig(name="trim")], OperatorDeps(objectives=objectives, token_budget=budget))


def test_a_campaign_keeps_its_budget_and_trims_below_its_front(tmp_path, local_ray):
    cfg = parse_config({
        "name": "trim", "seed": 3,
        "task": {"name": "synthetic", "params": {"conversations": 2, "budget_tokens": 96}, "cascade": ["smoke", "full"]},
        "seeds": ["bm25_rag", "recency_window"],
        "operators": [{"name": "structural", "weight": 1.0}, {"name": "trim", "weight": 2.0}],
        "budget": {"evaluations": 14}, "parallel": 2, "reproducible": True,
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    assert campaign.store.meta("token_budget") == "96"
    campaign.run()
    store = campaign.store
    trims = [c for c in store.candidates() if c.operator == "trim"]
    assert trims, [c.operator for c in store.candidates()]
    measured = [(store.evaluation(c.id, "full"), store.evaluation(c.parents[0], "full")) for c in trims]
    measured = [(c, p) for c, p in measured if c is not None and p is not None and c.status == p.status == "ok"]
    assert measured and all(c.metrics["tokens"] < p.metrics["tokens"] for c, p in measured)
    again = Campaign(cfg, campaign.run_dir, store)  # resumed: the budget comes from the store
    assert again.by_name["trim"].budget == 96.0
