"""Tune: Optuna proposes knob settings around a parent, learns from results, and restores."""
import random

from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.operators.base import CandidateView, OperatorContext
from evolve.operators.knobs import read_knobs, write_knobs
from evolve.operators.tune import OptunaTune, structure_key

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
    (study,) = op.studies.values()
    assert len(study.trials) == 8 and len(study.best_trials) >= 1


def test_failed_trials_are_told_and_restore_rebuilds_history():
    op = OptunaTune(seed=2, objectives=OBJ)
    history = []
    for k in range(5):
        p = op.propose(ctx())
        metrics = None if k == 0 else {"recall": 0.1 * k, "tokens": 10.0 * k}
        op.observe(p.meta, metrics, False)
        history.append(("tune", p.code, p.meta, metrics))
    (study,) = op.studies.values()
    states = [t.state.name for t in study.trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 4
    fresh = OptunaTune(seed=2, objectives=OBJ)
    fresh.restore(history)
    (again,) = fresh.studies.values()
    assert sorted(t.values for t in again.trials) == sorted(t.values for t in study.trials if t.values)


def test_one_study_per_structure_learns_from_other_operators():
    op = OptunaTune(seed=3, objectives=OBJ)
    p = op.propose(ctx())
    op.observe(p.meta, {"recall": 0.5, "tokens": 40.0}, False)
    # a knob-only sibling made elsewhere lands in the same study
    sibling = write_knobs(seed_source("bm25_rag"), {"TOP_K": 7})
    assert structure_key(sibling) == structure_key(p.code) == p.meta["tune_study"]
    op.learn(sibling, {"recall": 0.6, "tokens": 30.0})
    (study,) = op.studies.values()
    assert len(study.trials) == 2 and study.trials[1].params["TOP_K"] == 7
    # a structurally different program does not
    from evolve.operators.structural_edits import add_neighbours
    other, _ = add_neighbours(seed_source("bm25_rag"), random.Random(0))
    assert structure_key(other) != structure_key(p.code)
    op.learn(other, {"recall": 0.9, "tokens": 10.0})
    assert len(study.trials) == 2


def test_a_trial_open_when_the_campaign_stopped_is_told_after_the_resume():
    op = OptunaTune(seed=3, objectives=OBJ)
    p = op.propose(ctx())  # asked, then the campaign was killed while its candidate was evaluated
    resumed = OptunaTune(seed=3, objectives=OBJ)
    resumed.restore([("tune", p.code, p.meta, None)])  # the campaign passes unfinished candidates too
    (study,) = resumed.studies.values()
    assert len(study.trials) == 0
    resumed.observe(p.meta, {"recall": 0.5, "tokens": 40.0}, True)  # its evaluation ends in the new session
    assert [t.values for t in study.trials] == [[0.5, 40.0]]
    assert study.trials[0].params == p.meta["params"]



def test_catalogue_knobs_stay_in_their_declared_range():
    """A component's knob is tuned within the catalogue's range, not ×/÷4 around its value
    (INDEX_BITS 8 would otherwise be tried at 2 to 32, outside the compact index's 8..32)."""
    from design_space.catalogue import COMPONENTS
    from evolve.operators.structural_edits import swap_index

    code = next(c for c, note in (swap_index(seed_source("mem0"), random.Random(r)) for r in range(6))
                if "CompactDenseIndex" in note)
    spec = COMPONENTS["compact_dense"].params["bits"]
    assert {k.name: k.value for k in read_knobs(code)}["INDEX_BITS"] == 8
    op = OptunaTune(seed=3, objectives=OBJ)
    tried = []
    for _ in range(12):
        p = op.propose(OperatorContext(parents=[CandidateView("c0001", code)], rng=random.Random(0),
                                       objectives=["recall", "tokens"]))
        bits = {k.name: k.value for k in read_knobs(p.code)}["INDEX_BITS"]
        tried.append(bits)
        op.observe(p.meta, {"recall": 0.5, "tokens": 100.0}, False)
    assert all(spec.low <= b <= spec.high for b in tried), tried
    assert len(set(tried)) > 1  # it is tuned, not frozen


def test_on_experience_streams_turn_annotation_knobs_are_left_alone():
    """BANKING77 events have no speaker and no date (their time is a stream position): tune and the
    structural knob mutation leave SHOW_DATES / SHOW_SPEAKER as the parent has them there, and only there."""
    from evolve.config import OperatorConfig
    from evolve.operators import OperatorDeps, build_operators

    parent = CandidateView("c0001", seed_source("dense_rag"))
    assert {"SHOW_DATES", "SHOW_SPEAKER"} <= {k.name for k in read_knobs(parent.code)}

    def flips(labelled: bool) -> int:
        ops = build_operators([OperatorConfig(name="tune"), OperatorConfig(name="structural", params={
            "knob_weight": 1000.0})], OperatorDeps(seed=3, objectives=OBJ, labelled=labelled))
        changed = 0
        for op, _w in ops:
            for i in range(24):
                p = op.propose(OperatorContext(parents=[parent], rng=random.Random(i), objectives=["recall", "tokens"]))
                knobs = {k.name: k.value for k in read_knobs(p.code)}
                changed += knobs["SHOW_DATES"] is not False or knobs["SHOW_SPEAKER"] is not True
                if op.name == "tune":
                    op.observe(p.meta, {"recall": 0.5, "tokens": 100.0}, False)
        return changed

    assert flips(labelled=True) == 0
    assert flips(labelled=False) > 0
