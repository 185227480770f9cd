"""The bench scripts as a user runs them: from any directory, with one-line errors for missing data.

Figures are never asserted here (they are measured by the scripts themselves); this checks that each
script starts, says what it needs when the data is absent, and keeps what it finished."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())


def run(script: str, *args: str, cwd: Path, env: dict | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, str(BENCH / script), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})})


@pytest.mark.parametrize("script", [p.name for p in SCRIPTS])
def test_every_script_starts_from_outside_the_clone(script, tmp_path):
    r = run(script, "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("usage:"), r.stdout[:200]


# (script, arguments, the data set named in the error)
NEEDS_DATA = [("baselines.py", ["--tasks", "locomo"], "locomo"),
              ("eval_speed.py", [], "locomo"),
              ("seed_embedders.py", ["--tasks", "longmemeval"], "longmemeval"),
              ("banking77_vote_sim.py", ["--fidelity", "smoke"], "banking77"),
              ("search_efficiency.py", ["--evaluations", "2", "--repeats", "1", "--parallel", "1"], "locomo"),
              ("search_efficiency.py", ["--task", "babi", "--budget", "24", "--evaluations", "2", "--repeats", "1",
                                        "--parallel", "1"], "babi"),
              ("catalogue_ceiling.py", ["--trials", "2"], "locomo"),
              ("component_probe.py", [], "locomo"),
              ("experience_seeds.py", ["--fidelity", "smoke"], "banking77"),
              ("recall_depth.py", ["--task", "longmemeval"], "longmemeval")]


@pytest.mark.parametrize("script,args,dataset", NEEDS_DATA, ids=[s for s, _, _ in NEEDS_DATA])
def test_missing_data_is_one_line_naming_it(script, args, dataset, tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    r = run(script, *args, "--out", str(tmp_path / "out.json"), cwd=tmp_path, env={"MEMARCH_DATA": str(empty)}) \
        if script in ("banking77_vote_sim.py", "search_efficiency.py") else \
        run(script, *args, cwd=tmp_path, env={"MEMARCH_DATA": str(empty)})
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(script.removesuffix(".py") + ": "), last
    assert f"{dataset} data not found at {empty}" in last, last
    assert not (tmp_path / "out.json").exists()


def test_specialisation_names_a_directory_that_is_not_a_run(tmp_path):
    r = run("specialisation.py", str(tmp_path / "a"), str(tmp_path / "b"), cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"specialisation: no campaign at {tmp_path / 'a'} (expected {tmp_path / 'a' / 'campaign.db'})"


def test_component_probe_puts_the_with_steps_first_and_probes_the_rest_after_them(tmp_path):
    out = tmp_path / "probe.json"
    r = run("component_probe.py", "--task", "synthetic", "--fidelity", "smoke", "--with", "recency,prf,neighbours",
            "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads(out.read_text())
    # each ahead of the seed's own steps; the seed's neighbours step is not doubled
    assert got["base"]["hits"] == ["recency", "neighbours"] and got["base"]["query"] == ["prf"]
    assert "chain" in got["rows"] and not {"recency", "prf", "neighbours"} & set(got["rows"])
    assert all(row["status"] == "ok" for row in got["rows"].values()), got["rows"]
    bad = run("component_probe.py", "--with", "recency,bm25,nope", cwd=tmp_path, timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith(
        "component_probe: --with bm25,nope: not a catalogue step"), bad.stderr[-2000:]


def test_search_efficiency_refuses_an_unknown_method_before_running(tmp_path):
    r = run("search_efficiency.py", "--methods", "memarch,nonsense", "--out", str(tmp_path / "out.json"), cwd=tmp_path,
            timeout=60)
    assert r.returncode == 2 and "unknown nonsense" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "out.json").exists()


def test_search_efficiency_writes_each_finished_repeat(tmp_path):
    """The JSON holds every finished repeat while later ones run, so a failure hours in loses nothing."""
    out = tmp_path / "se.json"
    cmd = [sys.executable, str(BENCH / "search_efficiency.py"), "--task", "synthetic", "--evaluations", "4",
           "--repeats", "2", "--parallel", "1", "--methods", "optuna", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    seen = []  # (complete, repeats) of every state of the file seen while the run went on
    while proc.poll() is None:
        if out.is_file():
            data = json.loads(out.read_text())  # written atomically: never half a file
            state = (data["complete"], [row["repeat"] for row in data["results"]["optuna"]])
            if state not in seen:
                seen.append(state)
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read()[-3000:]
    data = json.loads(out.read_text())
    seen.append((data["complete"], [row["repeat"] for row in data["results"]["optuna"]]))
    assert (False, [0]) in seen and seen[-1] == (True, [0, 1]), seen
    assert all(len(row["hv"]) >= 4 and row["hv"][-1] > 0 for row in data["results"]["optuna"])
    assert not list(tmp_path.glob("*.part"))


def test_recall_depth_sets_the_pipelines_knobs_and_names_a_bad_one(tmp_path):
    out = tmp_path / "depth.json"
    r = run("recall_depth.py", "--task", "longmemeval", "--components", "share", "--knobs", '{"TOKEN_SHARE": 0.5}',
            "--budgets", "256", "--splits", "search", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {row["program"]: row for row in json.loads(out.read_text())["rows"]}
    # half the budget for the pipeline, the seed's whole budget for the seed
    assert rows["pipeline"]["search"][1] < 0.6 * rows["seed bm25_rag"]["search"][1], rows
    # recall, tokens, and the recall's standard error over the scored questions (hundreds: a few hundredths)
    assert all(0.001 < row["search"][2] < 0.05 for row in rows.values()), rows
    for knobs, said in (('{"TOKEN_SHARE": 0.5, "NOPE": 1}', "--knobs: NOPE not a knob of the pipeline"),
                        ('{"TOKEN_SHARE": ', "--knobs: not JSON"),
                        ('{"TOKEN_SHARE": "half"}', "--knobs: a JSON object of numbers or booleans")):
        bad = run("recall_depth.py", "--task", "longmemeval", "--components", "share", "--knobs", knobs,
                  "--out", str(tmp_path / "bad.json"), cwd=tmp_path, timeout=60)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stderr[-2000:]
        assert bad.stderr.strip().splitlines()[-1].startswith(said), bad.stderr[-2000:]
        assert not (tmp_path / "bad.json").exists()
