"""`front --within` / `export --within`: the best program within a user's bounds (evolve/choose.py).

The rule on hand-made metric tables (directions, ties, seeds and ids as bounds, one-line errors),
then through the real `memarch` command on a small real campaign database: the pick is the best
last-stage recall within a seed's tokens, held-out numbers never choose, export writes the pick.
"""
from __future__ import annotations

import dataclasses
import math

import pytest

from design_space.seeds import seed_source
from evolve.choose import Bound, ChoiceError, choose, parse_bounds
from evolve.config import dump_config, parse_config
from evolve.novelty import program_hash
from evolve.operators.knobs import write_knobs
from evolve.store import Store
from evolve.views import Measured, at_best_seeds_cost
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from test_cli_newcomer import memarch

OBJ = [("recall", "max"), ("tokens", "min")]
MEASURED = {"c0001": {"recall": 0.50, "tokens": 236.0},  # the seed
            "c0002": {"recall": 0.62, "tokens": 240.0},  # better, but spends more
            "c0003": {"recall": 0.58, "tokens": 230.0},
            "c0004": {"recall": 0.58, "tokens": 221.0},  # ties c0003 on recall, spends less
            "c0005": {"recall": 0.40, "tokens": 100.0}}
SEEDS = {"bm25_rag": "c0001"}


def test_the_pick_is_the_best_recall_within_the_seeds_tokens_ties_broken_by_cost():
    bounds = parse_bounds(["tokens=bm25_rag"], OBJ, MEASURED, SEEDS)
    assert bounds == [Bound("tokens", 236.0, "min", "bm25_rag")]
    assert choose(MEASURED, OBJ, bounds) == "c0004"
    assert choose(MEASURED, OBJ, []) == "c0002"
    assert choose(MEASURED, OBJ, parse_bounds(["tokens=c0003"], OBJ, MEASURED, SEEDS)) == "c0004"
    assert choose(MEASURED, OBJ, parse_bounds(["tokens=150"], OBJ, MEASURED, SEEDS)) == "c0005"
    assert choose(MEASURED, OBJ, parse_bounds(["tokens=50"], OBJ, MEASURED, SEEDS)) is None
    # a maximised objective bounds from below, and then the fewest tokens win: the cheapest way to 0.55
    assert choose(MEASURED, OBJ, parse_bounds(["recall=0.55"], OBJ, MEASURED, SEEDS)) == "c0004"
    assert choose(MEASURED, OBJ, parse_bounds(["recall=0.45"], OBJ, MEASURED, SEEDS)) == "c0004"
    assert choose(MEASURED, OBJ, parse_bounds(["recall=0.3"], OBJ, MEASURED, SEEDS)) == "c0005"
    both = parse_bounds(["recall=0.3", "tokens=235"], OBJ, MEASURED, SEEDS)
    assert choose(MEASURED, OBJ, both) == "c0004"  # every objective bound: the best recall
    assert choose(MEASURED, OBJ, bounds, among=["c0001", "c0003"]) == "c0003"
    assert str(bounds[0]) == "tokens ≤ 236 (bm25_rag)"
    assert str(parse_bounds(["tokens=240"], OBJ, MEASURED, SEEDS)[0]) == "tokens ≤ 240"


def test_ties_on_every_objective_go_to_the_earliest_id_and_unmeasured_metrics_never_fit():
    measured = {"c0009": {"recall": 0.6, "tokens": 200.0}, "c0007": {"recall": 0.6, "tokens": 200.0},
                "c0008": {"recall": 0.9}, "c0006": {"recall": math.nan, "tokens": 10.0}}
    assert choose(measured, OBJ, parse_bounds(["tokens=250"], OBJ, measured, {})) == "c0007"


@pytest.mark.parametrize("text, words", [
    ("tokens", "METRIC=VALUE"),
    ("tokens<=240", "METRIC=VALUE"),
    ("latency=3", "'latency' is not an objective"),
    ("tokens=hipporag", "'hipporag' has no measurement"),
    ("tokens=c0099", "'c0099' has no measurement"),
    ("tokens=nan", "finite"),
])
def test_a_bound_that_cannot_be_read_names_the_cause(text, words):
    with pytest.raises(ChoiceError, match=words):
        parse_bounds([text], OBJ, MEASURED, SEEDS)


# Through the real command -----------------------------------------------------------------------

NAME = "within-camp"
PARAMS = {"conversations": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A synthetic campaign measured for real: two seeds and three TOP_K variants of bm25_rag, each
    with a held-out evaluation whose order is the reverse of the search order (so a pick made
    with held-out numbers would differ)."""
    runs = tmp_path_factory.mktemp("runs")
    config = parse_config({"name": NAME, "seed": 1, "task": {"name": "synthetic", "params": PARAMS,
                                                              "cascade": ["smoke", "full"]},
                           "seeds": ["bm25_rag", "recency_window"], "budget": {"evaluations": 5}})
    store = Store.create(runs / NAME, dump_config(config))
    sb = ProcessSandbox()
    bm25 = seed_source("bm25_rag")
    programs = [(bm25, (), "seed:bm25_rag"), (seed_source("recency_window"), (), "seed:recency_window"),
                (write_knobs(bm25, {"TOP_K": 2}), ("c0001",), "tune"),
                (write_knobs(bm25, {"TOP_K": 4}), ("c0001",), "tune"),
                (write_knobs(bm25, {"TOP_K": 6}), ("c0001",), "tune")]
    full = {}
    for code, parents, op in programs:
        cand = store.add_candidate(code, program_hash(code), parents, op, op)
        for stage in ("smoke", "full"):
            res = sb.run(Job(program=code, task="synthetic", task_params=PARAMS, fidelity=stage, seed=1))
            assert res.status == "ok", res.error
            store.add_evaluation(cand.id, stage, res)
        full[cand.id] = res
    order = sorted(full, key=lambda c: full[c].metrics["recall"])
    for low, high in zip(order, reversed(order)):  # held-out recall: the search order reversed
        held = dataclasses.replace(full[low], metrics={**full[low].metrics, "recall": full[high].metrics["recall"]})
        store.add_evaluation(low, "holdout", held)
    store.close()
    return runs


def _measured(runs) -> dict[str, dict[str, float]]:
    store = Store.open(runs / NAME)
    try:
        return {e.candidate_id: e.metrics for e in store.evaluations("full")}
    finally:
        store.close()


def test_front_within_a_seeds_tokens_names_the_pick_and_the_seed_it_beats(runs):
    measured = _measured(runs)
    limit = measured["c0001"]["tokens"]
    fits = [c for c in measured if measured[c]["tokens"] <= limit]
    best = min(fits, key=lambda c: (-measured[c]["recall"], measured[c]["tokens"], c))
    r = memarch("front", NAME, "--within", "tokens=bm25_rag", runs=runs)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith(f"best within tokens ≤ {limit:.4g} (bm25_rag): {best}") for line in lines), r.stdout
    assert f"export it: memarch export {NAME} {best} -o memory.py" in r.stdout
    store = Store.open(runs / NAME)
    held = store.evaluation(best, "holdout").metrics
    store.close()
    pick_line = next(line for line in lines if line.startswith("best within"))
    assert f"(held-out recall {held['recall']:.4g}, tokens {held['tokens']:.4g})" in pick_line  # shown, not used
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert rows and all(measured[c]["tokens"] <= limit for c in rows), r.stdout  # the table keeps only what fits
    seeds_in = [c for c in ("c0001", "c0002") if measured[c]["tokens"] <= limit]
    top_seed = min(seeds_in, key=lambda c: (-measured[c]["recall"], measured[c]["tokens"], c))
    if best != top_seed:
        assert f"({top_seed})" in r.stdout and "best seed within them" in r.stdout


def test_export_within_writes_the_pick_not_the_held_out_favourite(runs, tmp_path):
    measured = _measured(runs)
    best = min(measured, key=lambda c: (-measured[c]["recall"], measured[c]["tokens"], c))
    store = Store.open(runs / NAME)
    held = {e.candidate_id: e.metrics["recall"] for e in store.evaluations("holdout")}
    code = store.candidate(best).code
    store.close()
    assert max(held, key=held.get) != best  # held-out numbers would pick another program
    out = tmp_path / "memory.py"
    r = memarch("export", NAME, "--within", "tokens=1000000", "-o", str(out), runs=runs)
    assert r.returncode == 0, r.stderr
    assert f": {best}" in r.stdout
    assert code.strip().splitlines()[-1] in out.read_text()


@pytest.mark.parametrize("args, words", [
    (["front", NAME, "--within", "tokens=dense_rag"], "seeds here: bm25_rag, recency_window"),
    (["front", NAME, "--within", "cost=1"], "not an objective"),
    (["export", NAME, "--within", "tokens=1", "-o", "x.py"], "nothing measured at the last stage meets tokens ≤ 1"),
    (["export", NAME, "c0001", "--within", "tokens=1", "-o", "x.py"], "exactly one of them"),
])
def test_within_errors_are_one_line_and_write_nothing(runs, tmp_path, args, words):
    r = memarch(*args, runs=runs, cwd=tmp_path)
    assert r.returncode == 2, r.stdout
    err = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(err) == 1 and words in err[0], r.stderr
    assert not (tmp_path / "x.py").exists()


def test_the_headline_bound_is_the_cost_of_the_seed_with_the_best_recall(runs):
    measured = _measured(runs)
    seeds = {"c0001": "bm25_rag", "c0002": "recency_window"}
    best = min(seeds, key=lambda c: (-measured[c]["recall"], measured[c]["tokens"], c))
    store = Store.open(runs / NAME)
    try:
        assert at_best_seeds_cost(Measured.of(store)) == [f"tokens={seeds[best]}"]
    finally:
        store.close()


def test_no_headline_without_a_measured_seed(tmp_path):
    config = parse_config({"name": "bare", "task": {"name": "synthetic"}, "seeds": ["bm25_rag"],
                           "budget": {"evaluations": 1}})
    store = Store.create(tmp_path / "bare", dump_config(config))
    try:
        assert at_best_seeds_cost(Measured.of(store)) == []
    finally:
        store.close()


def test_seed_ids_are_the_first_candidate_each_seed_entered_as(tmp_path):
    config = parse_config({"name": "ids", "task": {"name": "synthetic"}, "budget": {"evaluations": 1}})
    store = Store.create(tmp_path / "ids", dump_config(config))
    try:
        for n, op in enumerate(["tune", "seed:bm25_rag", "seed:recency_window", "seed:bm25_rag"]):
            code = f"X = {n}\n"
            store.add_candidate(code, program_hash(code), (), op, op)
        assert store.seed_ids() == {"bm25_rag": "c0002", "recency_window": "c0003"}
    finally:
        store.close()
