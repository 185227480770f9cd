"""Tune: Optuna proposes knob settings around a parent, learns from results, and restores."""
import random

from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.operators.base import CandidateView, OperatorContext
from evolve.operators.knobs import read_knobs
from evolve.operators.tune import OptunaTune

OBJ = [("recall", "max"), ("tokens", "min")]


def ctx():
    return OperatorContext(parents=[CandidateView("c0001", seed_source("bm25_rag"))], rng=random.Random(0),
                           objectives=["recall", "tokens"])


def test_trials_are_valid_distinct_and_within_range():
    op = OptunaTune(seed=1, objectives=OBJ)
    seen = set()
    for _ in range(8):
        p = op.propose(ctx())
        assert validate_source(p.code) == []
        knobs = {k.name: k.value for k in read_knobs(p.code)}
        assert 2 <= knobs["TOP_K"] <= 40 and 0.0 <= knobs["B"] <= 1.0
        seen.add(p.code)
        op.observe(p.meta, {"recall": knobs["TOP_K"] / 40, "tokens": knobs["TOP_K"] * 5.0}, False)
    assert len(seen) == 8
    study = op.studies["c0001"]
    assert len(study.trials) == 8 and len(study.best_trials) >= 1


def test_failed_trials_are_told_and_restore_rebuilds_history():
    op = OptunaTune(seed=2, objectives=OBJ)
    history = []
    for k in range(5):
        p = op.propose(ctx())
        metrics = None if k == 0 else {"recall": 0.1 * k, "tokens": 10.0 * k}
        op.observe(p.meta, metrics, False)
        history.append((p.meta, metrics))
    states = [t.state.name for t in op.studies["c0001"].trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 4
    fresh = OptunaTune(seed=2, objectives=OBJ)
    fresh.restore(history)
    assert [t.values for t in fresh.studies["c0001"].trials] == [t.values for t in op.studies["c0001"].trials]
