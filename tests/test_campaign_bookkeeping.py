"""A campaign never dies of its own bookkeeping.

- A seed that scores nothing (recency_window on LoCoMo recalls no evidence) is never admitted to
  the archive; the campaign must still run to its end, whichever candidate finishes first.
- The hypervolume reference is fixed from the task and the objectives when the campaign is
  created, stored, and used alike by `run`, `status`, `front`, `report` and `compare`.
- An objective the task never reports is a config error naming the task's metrics (exit 2).
- A campaign whose creation fails leaves nothing behind, so the corrected re-run starts.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data_paths import need
from evolve.campaign import Campaign
from evolve.commands.inspect import campaign_status, compare_runs
from evolve.config import ConfigError, parse_config
from evolve.reference import META_KEY, campaign_reference, probe_task, reference_values, stored_values
from evolve.report.data import report_data
from evolve.store import Store
from evolve.views import front_table

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")



def locomo(name: str, seeds: list[str], evaluations: int) -> dict:
    return {"name": name, "seed": 2,
            "task": {"name": "locomo", "params": {"path": str(need("locomo")), "budget_tokens": 96},
                     "cascade": ["smoke"], "holdout": None},
            "seeds": seeds, "operators": [{"name": "structural"}],
            "budget": {"evaluations": evaluations}, "parallel": 1, "sandbox": {"limits": {"wall_seconds": 60}}}


def test_a_seed_with_zero_recall_finishing_first_does_not_end_the_campaign(tmp_path, local_ray):
    # the only seed recalls nothing: the first (and only) candidate to finish is not admitted
    alone = Campaign.create(parse_config(locomo("alone", ["recency_window"], 3)), tmp_path)
    assert alone.run().startswith("nothing to breed from: none of 1 candidates reached the archive")
    ev = alone.store.evaluation("c0001", "smoke")
    assert ev.status == "ok" and ev.metrics["recall"] == 0.0 and len(alone.archive) == 0
    assert campaign_reference(alone.store, alone.config) == (0.0, 96.0)
    assert campaign_status(alone.store)["hypervolume"] == 0.0
    assert "hypervolume 0" in front_table(alone.store).title

    # with a useful seed beside it, the search goes on and every view measures the same front
    both = Campaign.create(parse_config(locomo("both", ["recency_window", "bm25_rag"], 6)), tmp_path)
    assert both.run() == "evaluation budget spent"
    assert "recency_window" not in {both.store.candidate(c).operator for c in both.archive.front()}
    hv = [d["hypervolume"] for _t, _k, d in both.store.events("front")][-1]
    assert hv > 0
    assert campaign_status(both.store)["hypervolume"] == pytest.approx(hv)
    assert report_data(both.store)["hypervolume"][-1]["hv"] == pytest.approx(hv)
    assert f"hypervolume {hv:.4g}" in front_table(both.store).title
    assert compare_runs(both.store, both.store)["hypervolume"]["both"] == pytest.approx(hv)
    # the reference came from the task, not from whichever candidate finished first
    assert stored_values(both.store, both.config) == [0.0, 96.0]
    # parsimony among ties reads each program's length, the same live and after a resume
    sizes = {c: len(both.store.candidate(c).code) for c in both.archive.ids()}
    assert {c: both.archive.size_of(c) for c in sizes} == sizes and min(sizes.values()) > 500
    reloaded, _islands = both._load_archives()
    assert {c: reloaded.size_of(c) for c in sizes} == sizes


def test_a_database_without_a_fixed_reference_still_opens(tmp_path):
    cfg = parse_config({"name": "old", "task": {"name": "synthetic", "params": {"budget_tokens": 48}}})
    store = Campaign.create(cfg, tmp_path).store
    store.set_meta(META_KEY, "-0.31,17.6")  # what the first finished candidate used to set
    assert stored_values(store, cfg) is None
    assert campaign_reference(store, cfg) == (0.0, 48.0)  # derived the same way, nothing written
    assert store.meta(META_KEY) == "-0.31,17.6"
    assert front_table(store).title  # `front` and `status` work
    assert campaign_status(store)["hypervolume"] == 0.0
    resumed = Campaign(cfg, tmp_path / "old", store)  # `resume` fixes it for good
    assert resumed.reference == (0.0, 48.0) and stored_values(store, cfg) == [0.0, 48.0]


@pytest.mark.parametrize("objectives, expected", [
    ([("recall", "max", None), ("tokens", "min", None)], [0.0, 256.0]),  # the task's own budget
    ([("recall", "max", None), ("tokens", "min", 100.0)], [0.0, 100.0]),  # a declared bound wins
    ([("recall", "max", None), ("latency_ms", "min", None)], [0.0, 1000.0]),
    ([("recall", "max", None), ("memory_kb", "min", None)], [0.0, 4096.0 * 1024]),  # the sandbox limit
    ([("ndcg", "max", None), ("empty_rate", "min", None)], [0.0, 1.0]),
])
def test_the_reference_comes_from_the_task_and_the_objectives(objectives, expected):
    cfg = parse_config({"name": "x", "task": {"name": "synthetic", "params": {"budget_tokens": 256}},
                        "objectives": [{"metric": m, "direction": d, **({"reference": r} if r else {})}
                                       for m, d, r in objectives]})
    assert reference_values(cfg, probe_task(cfg)) == expected


def test_a_minimised_metric_without_a_natural_bound_needs_one():
    cfg = parse_config({"name": "x", "objectives": [{"metric": "recall", "direction": "max"},
                                                    {"metric": "records", "direction": "min"}]})
    with pytest.raises(ConfigError, match="objectives.1: no natural bound for minimised 'records'"):
        reference_values(cfg, probe_task(cfg))


def _cli(tmp_path: Path, yaml_text: str):
    from evolve.cli import app

    (tmp_path / "c.yaml").write_text(yaml_text)
    return CliRunner().invoke(app, ["run", str(tmp_path / "c.yaml"), "--runs-dir", str(tmp_path / "runs"),
                                    "--no-preflight"], env={"COLUMNS": "300"})


def _said(result) -> str:
    try:
        return result.output + result.stderr
    except ValueError:  # stderr mixed into output
        return result.output


def test_an_objective_the_task_never_reports_is_a_config_error(tmp_path):
    res = _cli(tmp_path, "name: typo\ntask: {name: synthetic}\n"
                         "objectives: [{metric: recal, direction: max}, {metric: tokens, direction: min}]\n")
    said = " ".join(_said(res).split())
    assert res.exit_code == 2, said
    assert "'recal'" in said and "recall" in said and "Traceback" not in said
    assert not (tmp_path / "runs" / "typo" / Store.FILE).exists()


def test_the_standard_error_of_recall_cannot_be_an_objective(tmp_path):
    # a program that recalls nothing has standard error 0: minimising it would put that program first
    res = _cli(tmp_path, "name: se\ntask: {name: synthetic}\n"
                         "objectives: [{metric: recall_se, direction: min, reference: 1.0}, {metric: tokens, direction: min}]\n")
    said = " ".join(_said(res).split())
    assert res.exit_code == 2, said
    assert "objectives.0.metric: 'recall_se' is the standard error of recall" in said and "Traceback" not in said
    assert not (tmp_path / "runs" / "se" / Store.FILE).exists()


@pytest.mark.parametrize("bad, good", [
    # a missing API key
    ({"operators": [{"name": "llm_edit"}],
      "llm": {"models": [{"model": "openai/m", "api_base": "http://127.0.0.1:9/v1",
                          "api_key_env": "MEMARCH_TEST_KEY_THAT_IS_NOT_SET"}]}},
     {"operators": [{"name": "llm_edit"}],
      "llm": {"models": [{"model": "openai/m", "api_base": "http://127.0.0.1:9/v1"}]}}),
    # an unknown operator parameter
    ({"operators": [{"name": "structural", "params": {"no_such_param": 1}}]},
     {"operators": [{"name": "structural"}]}),
])
def test_a_failed_creation_leaves_nothing_behind(tmp_path, bad, good):
    os.environ.pop("MEMARCH_TEST_KEY_THAT_IS_NOT_SET", None)
    base = {"name": "again", "task": {"name": "synthetic"}, "budget": {"evaluations": 3}}
    with pytest.raises(ConfigError):
        Campaign.create(parse_config({**base, **bad}), tmp_path)
    assert not (tmp_path / "again" / Store.FILE).exists()
    campaign = Campaign.create(parse_config({**base, **good}), tmp_path)  # the corrected re-run
    assert [c.operator for c in campaign.store.candidates()] == ["seed:bm25_rag", "seed:recency_window"]
