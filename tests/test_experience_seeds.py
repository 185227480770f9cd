"""Every exp_* seed validates and learns from the stream in the real process sandbox."""
from __future__ import annotations

import pytest
from data_paths import need

from design_space.seeds import seed_names, seed_source
from design_space.validate import validate_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

EXP_SEEDS = [n for n in seed_names() if n.startswith("exp_")]
CHANCE = {"drift": 1 / 8, "banking77": 1 / 77}


def run(seed: str, task: str, params: dict | None = None):
    result = ProcessSandbox().run(Job(program=seed_source(seed), task=task, task_params=params or {}, fidelity="smoke"))
    assert result.status == "ok" and not result.error, result.error
    return result


def test_there_are_five_experience_seeds_and_all_validate():
    assert set(EXP_SEEDS) >= {"exp_exemplar", "exp_recent", "exp_prototypes", "exp_insights", "exp_hard"}
    for name in EXP_SEEDS:
        assert validate_source(seed_source(name)) == [], name


@pytest.mark.parametrize("seed", EXP_SEEDS)
def test_seed_beats_chance_on_the_drift_stream(seed):
    m = run(seed, "drift").metrics
    assert m["accuracy"] > 3 * CHANCE["drift"]
    assert m["accuracy_last"] >= m["accuracy_first"] - 0.1  # cold start: it learns as feedback arrives


@pytest.mark.parametrize("seed", EXP_SEEDS)
def test_seed_beats_chance_on_banking77(seed):
    need("banking77/train.csv")
    r = run(seed, "banking77")
    assert r.metrics["accuracy"] > 10 * CHANCE["banking77"]
    assert len(r.per_category) == 77 and set(r.per_item.values()) <= {0.0, 1.0}


def test_footprints_differ_as_the_designs_say():
    need("banking77/train.csv")
    exemplar, hard = run("exp_exemplar", "banking77").metrics, run("exp_hard", "banking77").metrics
    protos = run("exp_prototypes", "banking77").metrics
    assert hard["records"] < 0.8 * exemplar["records"]  # keeps only what it got wrong
    assert protos["memory_kb"] < 0.1 * exemplar["memory_kb"]  # one centroid per class, not every example


def test_capacity_budget_reaches_the_program():
    big = run("exp_recent", "drift").metrics
    small = run("exp_recent", "drift", {"capacity_records": 10}).metrics
    assert small["memory_kb"] < 0.25 * big["memory_kb"] and small["capacity_used"] == 20.0
