"""status, show, diff, compare, lineage formats and front --plot on a real campaign database.

The commands run through the real typer app (in-process, for speed); one runs as `python -m`
to check the registration of command modules from the command line too.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evolve.cli import app
from evolve.commands.inspect import campaign_status, components_by_stage
from test_report import run  # noqa: F401 - the shared real-store fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(run):  # noqa: F811
    runs, _store = run
    runner = CliRunner()

    def call(*args: str):
        return runner.invoke(app, [*args, "--runs-dir", str(runs)], env={"COLUMNS": "200"})
    return call


def test_status_numbers(run, cli):  # noqa: F811
    _runs, store = run
    res = cli("status", "rep", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["finished"] == 5 and data["candidates"] == 5 and data["in_flight"] == 0
    assert data["per_stage"]["smoke"] == {"crashed": 1, "ok": 4} and data["per_stage"]["full"] == {"ok": 4}
    assert data["best"]["recall"]["value"] == max(e.metrics["recall"] for e in store.evaluations("full"))
    assert data["hypervolume"] > 0 and data["llm"]["calls"] == 0
    assert data["running"] is True and data["eta_s"] is None  # the session never ended, but the budget is spent
    text = cli("status", "rep").output
    assert "candidates finished 5/5" in text and "recall (↑)" in text and "LLM: 0 calls" in text
    # the answer so far: the best program at no more tokens than the best-recall seed, as `run` ends with
    assert data["headline"] and data["headline"][0].startswith("best within tokens ≤ ")
    assert data["headline"][0] in text


def test_status_eta_from_this_sessions_rate(run):  # noqa: F811
    _runs, store = run
    # Budget 5, all done: no ETA. Ask what a budget of 9 would leave: 4 more at this session's rate.
    st = campaign_status(store)
    done_times = [t for t, k, _d in store.events() if k == "done"]
    start = [t for t, k, _d in store.events() if k == "session_start"][-1]
    rate = len(done_times) / (done_times[-1] - start)
    from evolve.views import stored_config
    cfg = stored_config(store)
    store.set_meta("config", store.meta("config").replace("evaluations: 5", "evaluations: 9"))
    try:
        st = campaign_status(store, now=time.time())
        assert st["eta_s"] == pytest.approx(4 / rate, rel=1e-6)
    finally:
        store.set_meta("config", store.meta("config").replace("evaluations: 9", "evaluations: 5"))
    assert stored_config(store) == cfg


def test_show_diff_compare(run, cli):  # noqa: F811
    _runs, store = run
    show = cli("show", "rep", "c0005")
    assert show.exit_code == 0, show.output
    assert "broken on purpose" in show.output and "crashed" in show.output and "no LLM call made c0005" in show.output
    good = cli("show", "rep", "c0004").output
    assert "failure sample" in good and "per category" in good and "NEIGHBOUR_RADIUS = 1" in good
    diff = cli("diff", "rep", "c0003", "c0004")
    assert diff.exit_code == 0 and "+NEIGHBOUR_RADIUS = 1" in diff.output and "-NEIGHBOUR_RADIUS = 0" in diff.output
    delta = store.evaluation("c0004", "full").metrics["recall"] - store.evaluation("c0003", "full").metrics["recall"]
    assert f"{delta:+.4g}" in diff.output
    cmp = cli("compare", "rep", str(_runs / "rep"), "--json")
    assert cmp.exit_code == 0, cmp.output
    both = json.loads(cmp.output)
    assert both["hypervolume"]["rep"] == pytest.approx(campaign_status(store)["hypervolume"])
    front = both["runs"][0]["front"]
    assert front and all(r["knobs"] for r in front)
    assert "bm25_index" in components_by_stage(store.candidate("c0001").code)["store"]  # bm25_rag's index
    text = cli("compare", "rep", "rep").output
    assert "front of rep" in text and "bm25_index" in text


def test_lineage_formats_and_front_plot(cli, tmp_path):
    dot = cli("lineage", "rep", "c0004", "--format", "dot")
    assert dot.exit_code == 0 and "c0001 -> c0003" in dot.output and "c0003 -> c0004" in dot.output
    assert "c0002" not in dot.output  # only the ancestry
    js = json.loads(cli("lineage", "rep", "--format", "json").output)
    assert len(js["nodes"]) == 5 and len(js["edges"]) == 3
    c5 = next(n for n in js["nodes"] if n["id"] == "c0005")
    assert c5["state"] == "crashed" and "broken on purpose" in c5["error"]
    html = cli("lineage", "rep", "c0004", "--format", "html", "-o", str(tmp_path / "l.html"))
    assert html.exit_code == 0 and (tmp_path / "l.html").read_text().count('class="node"') == 3
    assert cli("lineage", "rep", "--format", "svg").exit_code == 2
    plot = cli("front", "rep", "--plot", str(tmp_path / "front.png"))
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the `plot` extra is not installed: a one-line message, not a traceback
        assert plot.exit_code == 2 and "pip install matplotlib" in plot.output
    else:
        assert plot.exit_code == 0 and (tmp_path / "front.png").read_bytes()[:4] == b"\x89PNG"
    missing = cli("show", "rep", "c0042")
    assert missing.exit_code == 2 and "no candidate 'c0042'" in missing.output


def test_commands_are_registered_for_python_dash_m(run, tmp_path):  # noqa: F811
    runs, _store = run
    r = subprocess.run([sys.executable, "-m", "evolve.cli", "report", "rep", "-o", str(tmp_path / "r.html"),
                        "--runs-dir", str(runs)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_show_prints_the_prompt_and_reply_that_made_a_candidate(run, tmp_path):  # noqa: F811
    import shutil

    from evolve.store import Store

    runs, _store = run
    shutil.copytree(runs / "rep", tmp_path / "rep")
    store = Store.open(tmp_path / "rep")
    request = {"messages": [{"role": "system", "content": "You improve memory programs."},
                            {"role": "user", "content": "Make retrieve() fail loudly on purpose."}]}
    store.add_llm_call({"model": "openai/local", "purpose": "llm_edit", "prompt_hash": "ph1", "request": request,
                        "response": "<<<<<<< SEARCH\n...\n>>>>>>> REPLACE", "prompt_tokens": 31,
                        "completion_tokens": 12, "cost_usd": 0.0021, "candidate_id": "c0005"})
    store.close()
    res = CliRunner().invoke(app, ["show", "rep", "c0005", "--runs-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "prompt to openai/local (llm_edit, 31 tokens)" in res.output
    assert "Make retrieve() fail loudly on purpose." in res.output and "[system]" in res.output
    assert ">>>>>>> REPLACE" in res.output and "$0.0021" in res.output
    st = CliRunner().invoke(app, ["status", "rep", "--json", "--runs-dir", str(tmp_path)])
    assert json.loads(st.output)["llm"]["cost_usd"] == pytest.approx(0.0021)


def test_compare_runs_with_different_objectives(tmp_path):
    """A LoCoMo-style run (recall) and a BANKING77-style run (accuracy) still compare by structure."""
    from design_space.seeds import seed_source
    from evolve.commands.inspect import compare_runs
    from evolve.config import dump_config, parse_config
    from evolve.novelty import program_hash
    from evolve.store import Store
    from sandboxes.job import Result

    def run(name, seed, metric):
        cfg = parse_config({"name": name, "seeds": [seed], "task": {"cascade": ["full"]},
                            "objectives": [{"metric": metric, "direction": "max"},
                                           {"metric": "tokens", "direction": "min"}]})
        store = Store.create(tmp_path / name, dump_config(cfg))
        code = seed_source(seed)
        cand = store.add_candidate(code, program_hash(code), (), f"seed:{seed}")
        store.add_evaluation(cand.id, "full", Result(status="ok", metrics={metric: 0.8, "tokens": 40.0}))
        return store

    cmp = compare_runs(run("conv", "bm25_rag", "recall"), run("bank", "exp_exemplar", "accuracy"))
    assert cmp["hypervolume"] is None and cmp["objectives"] is None
    (conv, bank) = cmp["runs"]
    assert conv["objectives"] == ["recall", "tokens"] and bank["objectives"] == ["accuracy", "tokens"]
    assert conv["front"][0]["components"] != bank["front"][0]["components"]


def test_front_plot_labels_of_nearby_points_do_not_overlap():
    from evolve.views import label_offsets

    anchors = [(100.0, 50.0), (104.0, 51.0), (102.0, 49.0), (300.0, 50.0)]  # three points within a few points
    labels = ["c0006 (+1 tied)", "c0015", "c0018", "c0028"]
    offsets = label_offsets(anchors, labels, 7)
    boxes = [(x + dx, y + dy, x + dx + 0.6 * 7 * len(lab), y + dy + 1.25 * 7)
             for (x, y), (dx, dy), lab in zip(anchors, offsets, labels)]
    for i in range(len(boxes)):
        for j in range(i):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (labels[i], labels[j])
    assert offsets[0] == offsets[3] == (3.0, 3.0)  # a label with room stays beside its point
