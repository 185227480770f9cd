"""Parent selection (Pareto tournament, instance coverage) and stop conditions."""
import random
from collections import Counter

from evolve.select import InstanceCoverage, ParetoTournament, rank_all
from evolve.stop import (AnyOf, CampaignState, MaxEvaluations, MaxLLMDollars, MaxWallSeconds, NoImprovement,
                         StopFile)


def test_tournament_prefers_front_and_explores_sometimes():
    ids = ["a", "b", "c", "d"]
    pts = [(0.0, 1.0), (1.0, 0.0), (2.0, 2.0), (3.0, 3.0)]
    ranked = rank_all(ids, pts)
    picks = Counter(ParetoTournament(explore=0.0).pick(ranked, 400, random.Random(0)))
    assert set(picks) == {"a", "b"}
    picks = Counter(ParetoTournament(explore=1.0).pick(ranked, 400, random.Random(0)))
    assert picks["c"] > 0


def test_coverage_keeps_specialists():
    per_item = {"generalist": {"q1": 0.9, "q2": 0.9, "q3": 0.9},
                "specialist": {"q1": 1.0, "q2": 0.0, "q3": 0.0},
                "loser": {"q1": 0.5, "q2": 0.5, "q3": 0.5}}
    picks = Counter(InstanceCoverage().pick_from(per_item, 300, random.Random(0)))
    assert picks["specialist"] > 50 and picks["generalist"] > picks["specialist"] and picks["loser"] == 0


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
