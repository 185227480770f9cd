"""Parent selection (Pareto tournament, instance coverage) and stop conditions."""
import random
from collections import Counter

from evolve.archive import Archive
from evolve.coverage import MAX_HOLDERS, CoverageIndex
from evolve.pareto import non_dominated_sort, orient
from evolve.select import ParetoTournament
from evolve.stop import (AnyOf, CampaignState, MaxEvaluations, MaxLLMDollars, MaxWallSeconds, NoImprovement,
                         StopFile)


def _archive(points: dict[str, tuple[float, float]]) -> Archive:
    arch = Archive([("recall", "max"), ("tokens", "min")])
    for cid, (recall, tokens) in points.items():
        arch.add(cid, {"recall": recall, "tokens": tokens})
    return arch


def test_tournament_prefers_front_and_explores_sometimes():
    arch = _archive({"a": (1.0, 1.0), "b": (0.5, 0.0), "c": (0.4, 2.0), "d": (0.1, 3.0)})
    picks = Counter(ParetoTournament(explore=0.0).pick(arch, 400, random.Random(0)))
    assert set(picks) == {"a", "b"}
    picks = Counter(ParetoTournament(explore=1.0).pick(arch, 400, random.Random(0)))
    assert picks["c"] > 0 and picks["c"] > picks["d"]  # among explorers the better rank wins


def test_among_programs_tied_on_a_point_the_shorter_is_preferred():
    arch = Archive([("recall", "max"), ("tokens", "min")])
    arch.add("short", {"recall": 1.0, "tokens": 5.0}, size=900)
    arch.add("long", {"recall": 1.0, "tokens": 5.0}, size=4000)  # ties: edits that added nothing
    arch.add("other", {"recall": 0.5, "tokens": 1.0}, size=9000)  # a distinct point, alone on it
    picks = Counter(arch.draw_front(random.Random(k)) for k in range(4000))
    # each distinct point is drawn equally often, whatever number of programs share it
    assert 1800 < picks["other"] < 2200
    # on the shared point, the shorter of two draws: 3/4 short, 1/4 long (still explored)
    assert 0.7 < picks["short"] / (picks["short"] + picks["long"]) < 0.8


def test_incremental_front_and_ranks_match_a_full_sort():
    rng = random.Random(3)
    arch = Archive([("recall", "max"), ("tokens", "min"), ("latency_ms", "min")])
    points = {}
    for k in range(600):
        m = {"recall": round(0.01 + rng.random(), 2), "tokens": rng.randrange(1, 50), "latency_ms": rng.randrange(1, 9)}
        cid = f"c{k:04d}"
        on_front = arch.add(cid, m, {})
        points[cid] = orient([m["recall"], m["tokens"], m["latency_ms"]], ["max", "min", "min"])
        exact = non_dominated_sort(list(points.values()))
        front = sorted(list(points)[i] for i in exact[0])
        assert arch.front() == front and on_front == (cid in front)
    ranks = {list(points)[i]: r for r, f in enumerate(non_dominated_sort(list(points.values()))) for i in f}
    arch._ranked_size = 0  # force the periodic full ranking
    assert {c: arch.rank_of(c) for c in points} == ranks


def test_coverage_keeps_specialists():
    cov = CoverageIndex()
    cov.add("generalist", {"q1": 0.9, "q2": 0.9, "q3": 0.9})
    cov.add("specialist", {"q1": 1.0, "q2": 0.0, "q3": 0.0})
    cov.add("loser", {"q1": 0.5, "q2": 0.5, "q3": 0.5})
    picks = Counter(cov.pick(300, random.Random(0)))
    assert picks["specialist"] > 50 and picks["generalist"] > picks["specialist"] and picks["loser"] == 0
    cov.add("better", {"q1": 1.0, "q2": 1.0, "q3": 1.0})  # ties the specialist, beats the generalist
    assert cov.wins == {"specialist": 1, "better": 3}


def test_coverage_memory_is_bounded_by_items_not_candidates():
    cov = CoverageIndex()
    for k in range(5000):  # every candidate ties on the easy item; one is best on the hard one
        cov.add(f"c{k}", {"easy": 1.0, "hard": 1.0 if k == 4321 else 0.0})
    assert cov.holders["easy"] is None and cov.wins == {"c4321": 1}
    assert sum(len(h or ()) for h in cov.holders.values()) <= MAX_HOLDERS


def state(**kw):
    base = dict(candidates=0, elapsed_s=0.0, llm_usd=0.0, since_improvement=0, failed_proposals=0)
    return CampaignState(**{**base, **kw})


def test_stop_conditions_compose(tmp_path):
    stop = AnyOf([MaxEvaluations(10), MaxWallSeconds(60), MaxLLMDollars(1.0), NoImprovement(5),
                  StopFile(tmp_path / "STOP")])
    assert stop.reason(state()) == ""
    assert "evaluation" in stop.reason(state(candidates=10))
    assert "wall" in stop.reason(state(elapsed_s=61))
    assert "LLM" in stop.reason(state(llm_usd=1.5))
    assert "no front improvement" in stop.reason(state(since_improvement=5))
    (tmp_path / "STOP").touch()
    assert "stop file" in stop.reason(state())


def test_ties_are_one_front_point_so_adding_costs_the_same_however_many_tie(monkeypatch):
    """Knob edits that change nothing give thousands of programs with equal objectives: each must
    cost a newcomer one comparison (its point), not one per program, and not rebuild the front."""
    import evolve.archive as archive_mod

    arch = Archive([("recall", "max"), ("tokens", "min")])
    arch.add("lo", {"recall": 0.2, "tokens": 5.0})
    arch.add("hi", {"recall": 0.9, "tokens": 50.0})
    for k in range(2000):
        assert arch.add(f"t{k}", {"recall": 0.6, "tokens": 20.0})
    ranked = arch.front_ranked()
    calls = []
    real = archive_mod.dominates
    monkeypatch.setattr(archive_mod, "dominates", lambda a, b: calls.append(1) or real(a, b))
    assert arch.add("t-last", {"recall": 0.6, "tokens": 20.0})  # another tie: joins, no comparison
    assert arch.front_ranked() is ranked and len(ranked) == 2003  # extended in place, not rebuilt
    assert not arch.add("worse", {"recall": 0.5, "tokens": 30.0})
    assert len(calls) <= 3  # the front's three distinct points, not its 2,003 members
    assert arch.front_crowding()["t-last"] == arch.front_crowding()["t0"]
    assert arch.add("better", {"recall": 0.7, "tokens": 10.0})  # dominates the tie point: all 2,001 leave
    assert arch.front() == sorted(["better", "hi", "lo"])
    assert arch.rank_of("t5") == 1
