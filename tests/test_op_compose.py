"""compose: one Optuna study searches structure and knobs together over the catalogue, and what
one structure teaches about a (component, knob) reaches every structure that has it."""
import random

import pytest

from design_space.catalogue import COMPONENTS
from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.config import ConfigError, OperatorConfig
from evolve.operators import OperatorDeps, build_operators
from evolve.operators.base import CandidateView, OperatorContext
from evolve.operators.compose import Compose, trial_shape, screen_trials, structure_of
from evolve.operators.knobs import write_knobs
from evolve.operators.pipeline_edits import insert_at, present, slots
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

OBJ = [("recall", "max"), ("tokens", "min")]


def ctx(code, seed=0):
    return OperatorContext(parents=[CandidateView("c1", code)], rng=random.Random(seed), objectives=["recall", "tokens"])


def test_children_are_valid_pipelines_whose_structure_is_the_trial():
    op = Compose(objectives=OBJ)
    for seed in range(6):
        p = op.propose(ctx(seed_source("bm25_rag"), seed))
        assert validate_source(p.code) == []
        params = structure_of(p.code)
        asked = p.meta["params"]
        assert params["index"] == asked["index"]
        for name, value in asked.items():  # every knob asked is written; every use flag is honoured
            assert params.get(name) == (round(value, 4) if isinstance(value, float) else value), name
        shape = present(p.code)
        used = {n for s, names in shape.items() if s != "index" for n in names}
        assert used == {n[4:] for n, v in asked.items() if n.startswith("use:") and v}
        op.observe(p.meta, {"recall": 0.1, "tokens": 50.0}, False)
    res = ProcessSandbox().run(Job(program=p.code, task="synthetic", fidelity="smoke"))
    assert res.status == "ok", res.error


def test_a_non_pipeline_parent_gets_the_skeleton():
    p = Compose(objectives=OBJ).propose(ctx(seed_source("titans")))
    assert "self.turns = Turns()" in p.code and validate_source(p.code) == []
    assert p.parents == ()  # lineage does not claim titans' code
    assert Compose(objectives=OBJ).propose(ctx(seed_source("dense_rag"))).parents == ("c1",)


def test_other_operators_pipelines_are_free_trials_keyed_by_component_knob():
    op = Compose(objectives=OBJ)
    child = insert_at(seed_source("dense_rag"), "query", COMPONENTS["prf"], 0).replace("PRF_TERMS = 5", "PRF_TERMS = 9")
    op.learn(child, {"recall": 0.7, "tokens": 100.0})
    op.learn(seed_source("titans"), {"recall": 0.9, "tokens": 10.0})  # not a pipeline: nothing to learn
    op.learn(child.replace("PRF_TERMS = 9", "PRF_TERMS = 400"), {"recall": 0.9, "tokens": 10.0})  # out of range
    trials = op.study.trials
    assert len(trials) == 1
    assert trials[0].params["PRF_TERMS"] == 9 and trials[0].params["use:prf"] is True
    assert trials[0].params["index"] == "dense" and "INDEX_K1" not in trials[0].params
    # the same knob in another structure is the same parameter of the same study
    other = insert_at(seed_source("bm25_rag"), "query", COMPONENTS["prf"], 0)
    op.learn(other, {"recall": 0.2, "tokens": 100.0})
    assert [t.params["PRF_TERMS"] for t in op.study.trials] == [9, 5]
    assert op.study.trials[1].params["INDEX_K1"] == 1.2  # read through BM25Index(K1, B)


def test_the_study_learns_which_component_and_knob_pay():
    # A made-up objective (no sandbox): recall rises with the temporal step and TIME_WEIGHT near 1.5,
    # and falls with every other step. Both halves after the start-up must use temporal in most trials,
    # more often than the random start-up does (sampling blind: half of them), and the second half must set
    # its weight much closer to 1.5 than uniform sampling over [0, 2] does (mean distance 0.625). Once
    # learned, the use rate saturates: over seeds 0-7 the halves read 0.75-1.0, the second below the
    # first in four, so the halves are not asked to rise.
    op = Compose(objectives=OBJ, startup_trials=8, seed=1)
    runs = []
    for i in range(40):
        p = op.propose(ctx(seed_source("bm25_rag"), i))
        a = p.meta["params"]
        others = sum(v for n, v in a.items() if n.startswith("use:") and n != "use:temporal")
        recall = (0.5 + 0.4 * (1 - min(1.0, abs(a.get("TIME_WEIGHT", 0.0) - 1.5))) if a["use:temporal"] else 0.3)
        recall -= 0.02 * others
        op.observe(p.meta, {"recall": recall, "tokens": 100.0}, False)
        runs.append(a)
    startup, first, second = runs[:8], runs[8:24], runs[24:]
    use = [sum(r["use:temporal"] for r in half) / len(half) for half in (startup, first, second)]
    assert min(use[1:]) >= 0.7 and min(use[1:]) > use[0]  # learned: above the random start-up trials
    use = use[1:]
    gap = [sum(abs(r["TIME_WEIGHT"] - 1.5) for r in half if r["use:temporal"]) /
           max(1, sum(r["use:temporal"] for r in half)) for half in (first, second)]
    assert gap[1] < 0.45


def test_the_screen_tries_every_component_alone_once_then_the_model_favours_the_one_that_paid():
    # The first children are the skeleton plus one catalogue choice each: every offered component
    # alone (label steps only on labelled tasks), then every other index; none repeats, parents are
    # none (the skeleton's code). A made-up objective pays for `roles` alone; after the screen most
    # children use it, where TPE's own start-up uses each step half of the time.
    op = Compose(objectives=OBJ, seed=2, screen=True, screen_rounds=1)
    skeleton = structure_of(seed_source("bm25_rag"))
    offered = {c.name for c in COMPONENTS.values() if c.slot != "index" and not c.labelled and not skeleton[f"use:{c.name}"]}
    shapes, runs = [], []
    for i in range(len(offered) + 3 + 24):
        p = op.propose(ctx(seed_source("dense_rag"), i))
        a = p.meta["params"]
        added = {n[4:] for n, v in a.items() if n.startswith("use:") and v and not skeleton[n]}
        if i < len(offered) + 3:
            assert p.parents == () and p.note.startswith("compose screen")
            shapes.append((a["index"], tuple(sorted(added))))
            if i < len(offered):
                assert a["index"] == "bm25" and len(added) == 1 and all(
                    a[k.name] == k.default for k in COMPONENTS[next(iter(added))].knobs)
            else:
                assert not added and a["index"] != "bm25"
        else:
            assert not p.note.startswith("compose screen")
            runs.append(a)
        others = len(added - {"roles"})
        op.observe(p.meta, {"recall": (0.6 if a["use:roles"] else 0.3) - 0.03 * others, "tokens": 100.0}, False)
    assert {s[1][0] for s in shapes if s[1]} == offered and len(set(shapes)) == len(shapes)
    assert sum(r["use:roles"] for r in runs[8:]) >= 0.8 * len(runs[8:])
    # a resumed campaign does not screen again what its history holds
    assert len(screen_trials(skeleton, slots(seed_source("bm25_rag")), False, 2)) == len(offered) + 3
    again = Compose(objectives=OBJ, seed=2, screen=True, screen_rounds=1)
    for t in op.study.trials[:5]:  # five screen trials, as a restored history holds them
        again._study().add_trial(t)
    assert trial_shape(again._screen_next()) == trial_shape(op.study.trials[5].params)
    assert len(again.screen_queue) == len(offered) + 3 - 6
    assert not Compose(objectives=OBJ)._screen_next()  # auto, and no evaluation budget given: off


def test_screen_auto_follows_the_campaign_evaluation_budget():
    def built(evaluations, **params):
        cfg = OperatorConfig(name="compose", weight=1.0, params=params)
        return build_operators([cfg], OperatorDeps(seed=3, objectives=OBJ, evaluations=evaluations))[0][0]

    assert built(40).screen is False and built(99).screen is False  # the quickstart's 40: no screen
    assert built(100).screen is True and built(200).screen is True
    assert built(200, screen=False).screen is False and built(40, screen=True).screen is True
    with pytest.raises(ConfigError, match=r"^operators.compose.params: compose: screen must be true, false or auto"):
        built(200, screen="sometimes")
    assert built(200).screen_rounds == 2 and built(200, screen_rounds=3).screen_rounds == 3
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match=r"^operators.compose.params: compose: screen_rounds must be a whole number"):
            built(200, screen_rounds=bad)
    assert built(200).screen_knobs == 8 and built(200, screen_knobs=0).screen_knobs == 0
    for bad in (-1, 2.5, False):
        with pytest.raises(ConfigError, match=r"^operators.compose.params: compose: screen_knobs must be a whole number"):
            built(200, screen_knobs=bad)
    for bad in ("yes", 1, None):
        with pytest.raises(ConfigError, match=r"^operators.compose.params: compose: screen_prune must be true or false"):
            built(200, screen_prune=bad)


def _added(params, skeleton):
    return {n[4:] for n, v in params.items() if n.startswith("use:") and v and not skeleton[n]}


def test_a_second_screening_round_finds_the_step_that_pays_only_beside_the_first():
    # A made-up objective where `roles` pays alone and `chain` only beside it (bAbI's `recency` and
    # `chain`): the first round has no contrast for `chain`; the second round, on top of the first
    # round's best, has. It starts only once the first round's last trial has a result (model trials
    # meanwhile), holds every other component once beside `roles` (not beside the index swap that
    # scored higher) and no index trial.
    skeleton = structure_of(seed_source("bm25_rag"))
    offered = {c.name for c in COMPONENTS.values() if c.slot != "index" and not c.labelled and not skeleton[f"use:{c.name}"]}

    def score(params):
        if params["index"] != "bm25":  # an index swap outscores every step alone, yet is no step to build on
            return {"recall": 0.65, "tokens": 100.0}
        added = _added(params, skeleton)
        paid = 0.3 * ("roles" in added) + 0.2 * ({"roles", "chain"} <= added)
        return {"recall": 0.3 + paid - 0.01 * len(added - {"roles", "chain"}), "tokens": 100.0}

    op = Compose(objectives=OBJ, seed=5, screen=True)
    op.learn(seed_source("bm25_rag"), {"recall": 0.3, "tokens": 100.0})  # the skeleton seed's own result
    first = [op.propose(ctx(seed_source("bm25_rag"), i)) for i in range(len(offered) + 3)]
    assert all(p.note.startswith("compose screen") for p in first)
    for p in first[:-1]:
        op.observe(p.meta, score(p.meta["params"]), False)
    waiting = op.propose(ctx(seed_source("bm25_rag"), 99))  # the round's last result is not in
    assert not waiting.note.startswith("compose screen")
    op.observe(first[-1].meta, score(first[-1].meta["params"]), False)
    op.observe(waiting.meta, score(waiting.meta["params"]), False)
    second = [op.propose(ctx(seed_source("bm25_rag"), 100 + i)) for i in range(len(offered) - 1)]
    assert all(p.note.startswith("compose screen") and p.parents == () for p in second)
    assert all(p.meta["params"]["index"] == "bm25" for p in second)
    assert sorted(tuple(sorted(_added(p.meta["params"], skeleton))) for p in second) == sorted(
        tuple(sorted({"roles", other})) for other in offered - {"roles"})
    assert all("roles" in present(p.code)["hits"] for p in second)
    # a program of the base's structure with other knobs (a `tune` child) outscores every step of the
    # round; the steps are judged against the base's own screen trial, so `chain` still wins the round
    roles = next(p for p in first if _added(p.meta["params"], skeleton) == {"roles"})
    tuned_base = write_knobs(roles.code, {"TOP_K": roles.meta["params"]["TOP_K"] + 3})
    assert trial_shape(structure_of(tuned_base)) == trial_shape(roles.meta["params"])
    op.learn(tuned_base, {"recall": 0.95, "tokens": 100.0})
    for p in second:
        op.observe(p.meta, score(p.meta["params"]), False)
    # a campaign resumed mid-way through the second round screens the rest of it, nothing twice
    again = Compose(objectives=OBJ, seed=5, screen=True)
    for t in op.study.trials[:len(first) + 2 + 4]:  # the first round, the skeleton, one model trial, 4 of round 2
        again._study().add_trial(t)
    rest = [again._screen_next() for _ in range(len(second) - 4)]
    assert again.screen_round == 2 and not again.screen_over
    assert sorted(trial_shape(r) for r in rest) == sorted(trial_shape(p.meta["params"]) for p in second[4:])
    best = max(op.study.trials[:len(first) + len(second) + 2], key=lambda t: t.values[0])
    assert _added(best.params, skeleton) == {"roles", "chain"}
    # two rounds: the screen's best structure gets `screen_knobs` trials, its steps fixed, its knobs
    # (TOP_K, the index's, the steps') asked of the model; then the model's own trials
    assert op.screen_knobs == 8
    tuned = [op.propose(ctx(seed_source("bm25_rag"), 200 + i)) for i in range(op.screen_knobs)]
    for p in tuned:
        assert p.note.startswith("compose knob trial") and p.note.endswith("(the screen's best, its knobs from the model)")
        assert p.meta["screen_knobs"] is True and p.parents == () and p.meta["params"]["index"] == "bm25"
        assert _added(p.meta["params"], skeleton) == {"roles", "chain"} and validate_source(p.code) == []
        op.observe(p.meta, score(p.meta["params"]), False)
    knob_values = {tuple(sorted((n, v) for n, v in p.meta["params"].items() if n != "index" and not n.startswith("use:")))
                   for p in tuned}
    assert len(knob_values) >= 6  # the knobs move; the structure does not
    after = op.propose(ctx(seed_source("bm25_rag"), 300))
    assert not after.note.startswith(("compose screen", "compose knob")) and "screen_knobs" not in after.meta
    # a resumed campaign makes only the knob trials its history lacks
    resumed = Compose(objectives=OBJ, seed=5, screen=True)
    made = [(p.meta, p.code) for p in [*first, *second, *tuned[:3]]]
    resumed.restore([("compose", code, meta, score(meta["params"])) for meta, code in made])
    assert resumed.knobs_done == 3
    queued = [resumed._screen_next() for _ in range(op.screen_knobs - 3)]
    assert all(q is not None and set(q) == {n for n in q if n == "index" or n.startswith("use:")} for q in queued)
    assert all(_added(q, skeleton) == {"roles", "chain"} for q in queued)
    assert resumed.screen_over and resumed._screen_next() is None
    off = Compose(objectives=OBJ, seed=5, screen=True, screen_knobs=0)  # no knob trials: the model goes on
    off.restore([("compose", code, meta, score(meta["params"])) for meta, code in made[:len(first) + len(second)]])
    assert off._screen_next() is None and off.screen_over

    # a round whose best does not beat its base ends the screen
    flat = Compose(objectives=OBJ, seed=5, screen=True)
    flat.learn(seed_source("bm25_rag"), {"recall": 0.9, "tokens": 100.0})
    for i in range(len(offered) + 3):
        p = flat.propose(ctx(seed_source("bm25_rag"), i))
        assert p.note.startswith("compose screen")
        flat.observe(p.meta, score(p.meta["params"]), False)
    knob = flat.propose(ctx(seed_source("bm25_rag"), 50))  # the skeleton stays the best: its knobs are tried
    assert knob.note.startswith("compose knob trial") and not _added(knob.meta["params"], skeleton)
    assert flat.screen_round == flat.screen_rounds


def test_a_pruned_screen_offers_later_rounds_only_the_steps_that_beat_the_skeleton_alone():
    # `roles` pays alone, `entities` a little, `chain` only beside `roles`, every other step costs a hair.
    # Pruned, round 2 on top of `roles` offers `entities` alone (the only other step that beat the skeleton
    # in round 1: `chain` is lost, the price of pruning), round 3 has nothing left to offer, so the knob
    # trials of roles + entities follow.
    skeleton = structure_of(seed_source("bm25_rag"))
    offered = {c.name for c in COMPONENTS.values() if c.slot != "index" and not c.labelled and not skeleton[f"use:{c.name}"]}

    def score(params):
        if params["index"] != "bm25":
            return {"recall": 0.2, "tokens": 100.0}
        added = _added(params, skeleton)
        paid = 0.3 * ("roles" in added) + 0.05 * ("entities" in added) + 0.2 * ({"roles", "chain"} <= added)
        return {"recall": 0.3 + paid - 0.01 * len(added - {"roles", "chain", "entities"}), "tokens": 100.0}

    def run(op, n, start):
        made = [op.propose(ctx(seed_source("bm25_rag"), start + i)) for i in range(n)]
        for p in made:
            op.observe(p.meta, score(p.meta["params"]), False)
        return made

    op = Compose(objectives=OBJ, seed=5, screen=True, screen_rounds=3, screen_prune=True)
    op.learn(seed_source("bm25_rag"), {"recall": 0.3, "tokens": 100.0})
    first = run(op, len(offered) + 3, 0)
    assert all(p.note.startswith("compose screen") for p in first)
    assert op.screen_kept is None  # known once round 1 is judged
    second = run(op, 1, 100)
    assert second[0].note.startswith("compose screen") and _added(second[0].meta["params"], skeleton) == {"roles", "entities"}
    assert op.screen_kept == {"roles", "entities"}
    knob = op.propose(ctx(seed_source("bm25_rag"), 200))
    assert knob.note.startswith("compose knob trial") and _added(knob.meta["params"], skeleton) == {"roles", "entities"}
    # a resumed campaign finds the same steps from its history and goes on to the knob trials
    resumed = Compose(objectives=OBJ, seed=5, screen=True, screen_rounds=3, screen_prune=True)
    seed = [("seed:bm25_rag", seed_source("bm25_rag"), {}, {"recall": 0.3, "tokens": 100.0})]
    resumed.restore(seed + [("compose", p.code, p.meta, score(p.meta["params"])) for p in [*first, *second]])
    nxt = resumed._screen_next()
    assert resumed.screen_kept == {"roles", "entities"} and resumed.screen_over
    assert set(nxt) == {n for n in nxt if n == "index" or n.startswith("use:")} and _added(nxt, skeleton) == {"roles", "entities"}
    # unpruned, the same history's second round offers every other step beside `roles`
    full = Compose(objectives=OBJ, seed=5, screen=True, screen_rounds=3)
    full.restore(seed + [("compose", p.code, p.meta, score(p.meta["params"])) for p in first])
    later = [full._screen_next() for _ in range(len(offered) - 1)]
    assert full.screen_kept is None and sorted(tuple(sorted(_added(q, skeleton))) for q in later) == sorted(
        tuple(sorted({"roles", other})) for other in offered - {"roles"})


def test_restore_and_registry():
    ops = build_operators([OperatorConfig(name="compose", weight=1.0)], OperatorDeps(seed=3, objectives=OBJ))
    op = ops[0][0]
    assert op.name == "compose" and op.arity == 1
    op.restore([("structural", seed_source("bm25_rag"), {}, {"recall": 0.5, "tokens": 80.0}),
                ("structural", seed_source("titans"), {}, {"recall": 0.5, "tokens": 80.0}),
                ("compose", seed_source("dense_rag"), {"compose_trial": 0}, None)])
    assert len(op.study.trials) == 1


def test_tune_starts_a_new_structure_from_what_another_structure_put_on_the_front():
    from evolve.operators.tune import OptunaTune, structure_key

    op = OptunaTune(objectives=OBJ)
    a = insert_at(seed_source("bm25_rag"), "query", COMPONENTS["prf"], 0)
    b = insert_at(seed_source("dense_rag"), "query", COMPONENTS["prf"], 0)
    assert structure_key(a) != structure_key(b)
    p = op.propose(ctx(a))
    learned = p.meta["params"]
    assert learned["PRF_TERMS"] != 5 or learned["TOP_K"] != 10
    op.observe(p.meta, {"recall": 0.9, "tokens": 10.0}, True)
    first = op.propose(ctx(b)).meta["params"]
    assert first["PRF_TERMS"] == learned["PRF_TERMS"] and first["TOP_K"] == learned["TOP_K"]
    assert first["MIN_SIMILARITY"] == 0.0  # a knob only b has keeps b's value
    # a trial that did not reach the front teaches nothing to other structures
    op2 = OptunaTune(objectives=OBJ)
    p = op2.propose(ctx(a))
    op2.observe(p.meta, {"recall": 0.1, "tokens": 10.0}, False)
    assert op2.propose(ctx(b)).meta["params"]["PRF_TERMS"] in range(1, 21)
    assert not op2.shared


def test_label_components_are_offered_on_experience_streams_alone():
    """condense and label_vote work on an experience stream's feedback labels: a retrieval task's
    compose, structural and random children never hold them, an experience task's can."""
    labelled = {c.name for c in COMPONENTS.values() if c.labelled}
    assert labelled == {"condense", "label_vote", "label_model"}
    for flag, expect_some in ((False, False), (True, True)):
        deps = OperatorDeps(seed=0, objectives=OBJ, labelled=flag,
                            seed_programs={"dense_rag": seed_source("dense_rag")})
        ops = {o.name: o for o, _w in build_operators([OperatorConfig(name="compose"), OperatorConfig(name="structural"),
                                                       OperatorConfig(name="random", params={"max_edits": 6})], deps)}
        held = set()
        for seed in range(40):
            for name in ("compose", "structural", "random"):
                try:
                    p = ops[name].propose(ctx(seed_source("dense_rag"), seed))
                except Exception:  # noqa: BLE001 - an edit that does not apply: drawn again next seed
                    continue
                held |= {c for names in present(p.code).values() for c in names}
                if name == "compose":
                    ops[name].observe(p.meta, {"recall": 0.5, "tokens": 100.0}, False)
        assert bool(held & labelled) == expect_some, (flag, held)


def test_stemming_is_a_knob_of_the_lexical_indexes_that_compose_writes_and_reads_back():
    from evolve.operators.compose import build

    skeleton = seed_source("bm25_rag")
    assert structure_of(skeleton)["INDEX_STEM"] is False  # BM25Index(K1, B): the default, unstemmed
    for index in ("bm25", "hybrid"):
        code = build(skeleton, index, [], {"INDEX_STEM": True, "TOP_K": 8})
        assert validate_source(code) == [] and "stem=INDEX_STEM" in code and "INDEX_STEM = True" in code
        assert structure_of(code)["INDEX_STEM"] is True
    runs = [ProcessSandbox().run(Job(program=build(skeleton, "bm25", [], {"INDEX_STEM": stem}), task="locomo",
                                     task_params={"split": "search"}, fidelity="smoke")) for stem in (False, True)]
    assert all(r.status == "ok" for r in runs), [r.error for r in runs]
    assert runs[0].metrics["recall"] != runs[1].metrics["recall"]  # stemming changes what comes back
