"""What a new user hits first, through the real `memarch` command (a subprocess, stdout piped).

One small real campaign database (synthetic task, smoke + full, process sandbox, no Ray) with a
hyphen in its name and two programs tied on every objective; one tiny campaign run for real
through `memarch run` (Ray); everything else reads those. Covers: one-line errors with exit 2
and nothing half-written, Python's and YAML's own error lines, one front size everywhere,
unwrapped piped output and a diff that applies as a patch, help text, and defaults (the most
recent campaign, `resume` of a finished or still-driven campaign).
"""
from __future__ import annotations

import ast
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci import missing
from design_space.seeds import seed_source
from evolve.config import dump_config, parse_config
from evolve.novelty import program_hash
from evolve.operators.knobs import write_knobs
from evolve.store import Store
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

ROOT = Path(__file__).resolve().parents[1]
NAME = "loco-spec"  # a hyphen, as in examples/locomo.yaml
PARAMS = {"conversations": 1}
MEMARCH = shutil.which("memarch")


def memarch(*args: str, runs: Path | None = None, cwd: Path = ROOT, timeout: float = 240):
    """The real console script (or `python -m evolve.cli` where it is not on PATH), output piped."""
    cmd = [MEMARCH] if MEMARCH else [sys.executable, "-m", "evolve.cli"]
    extra = ["--runs-dir", str(runs)] if runs is not None else []
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # rich must not be told a width
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run([*cmd, *args, *extra], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def _add(store: Store, sandbox: ProcessSandbox, code: str, parents: tuple, op: str, note: str) -> str:
    cand = store.add_candidate(code, program_hash(code), parents, op, note)
    for stage in ("smoke", "full"):
        res = sandbox.run(Job(program=code, task="synthetic", task_params=PARAMS, fidelity=stage, seed=1))
        store.add_evaluation(cand.id, stage, res)
        if res.status != "ok":
            break
    store.log("done", candidate=cand.id, outcome=res.status)
    return cand.id


def _config(name: str, evaluations: int):
    return parse_config({"name": name, "seed": 1,
                         "task": {"name": "synthetic", "params": PARAMS, "cascade": ["smoke", "full"]},
                         "seeds": ["bm25_rag", "recency_window"], "budget": {"evaluations": evaluations}})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """runs/old-camp (never evaluated, older) and runs/loco-spec: two seeds, a knob change, and a
    program that differs from c0001 only by an unused constant (a tie on every objective)."""
    runs = tmp_path_factory.mktemp("runs")
    Store.create(runs / "old-camp", dump_config(_config("old-camp", 3))).close()
    old = time.time() - 3600
    for p in (runs / "old-camp").glob("campaign.db*"):
        os.utime(p, (old, old))
    store = Store.create(runs / NAME, dump_config(_config(NAME, 4)))
    store.log("session_start", pending=2)
    sb = ProcessSandbox()
    bm25 = seed_source("bm25_rag")
    _add(store, sb, bm25, (), "seed:bm25_rag", "seed bm25_rag")
    _add(store, sb, seed_source("recency_window"), (), "seed:recency_window", "seed recency_window")
    _add(store, sb, write_knobs(bm25, {"TOP_K": 3}), ("c0001",), "structural", "TOP_K 10 → 3")
    _add(store, sb, bm25 + "\nUNUSED_CONSTANT = 1\n", ("c0001",), "structural", "an unused constant")
    store.log("session_end", reason="evaluation budget spent")
    store.close()
    return runs


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# 1. Errors are one line, exit 2, nothing half-written -------------------------------------------

def test_export_errors_are_one_line_and_leave_nothing_behind(runs, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for target, words in ((Path("/sys/memarch_export.py"), ("cannot write", "/sys")),
                          (afile / "sub" / "m.py", ("afile is a file, not a folder",)),
                          (tmp_path / "my-memory.py", ("'my-memory' cannot be imported", "my_memory.py"))):
        r = memarch("export", NAME, "c0001", "-o", str(target), runs=runs)
        assert r.returncode == 2, r.stderr
        line = _one_line(r.stderr)
        assert line.startswith("error:") and all(w in line for w in words), line
        assert not target.exists()
    # The card cannot be written (a folder has its name): the module must not be left alone.
    out = tmp_path / "half"
    (out / "loco_spec_c0001.card.md").mkdir(parents=True)
    r = memarch("export", NAME, "c0001", "-o", str(out), runs=runs)
    assert r.returncode == 2 and "cannot write" in _one_line(r.stderr)
    assert sorted(p.name for p in out.iterdir()) == ["loco_spec_c0001.card.md"]


def test_export_names_are_importable_identifiers(runs, tmp_path):
    r = memarch("export", NAME, "--front", "-o", str(tmp_path / "front"), runs=runs)
    assert r.returncode == 0, r.stderr
    modules = sorted((tmp_path / "front").glob("*.py"))
    assert modules and all(m.stem.isidentifier() and m.stem.startswith("loco_spec_") for m in modules)
    card = modules[0].with_name(modules[0].stem + ".card.md").read_text()
    usage = card.split("```python\n")[1].split("```")[0]
    ast.parse(usage)  # the card's example is Python (`from loco-spec_c0001 import ...` was not)
    assert f"from {modules[0].stem} import Memory" in usage
    # the module imports under that name from the folder it was written to
    probe = subprocess.run([sys.executable, "-c", f"import {modules[0].stem} as m; print(m.Memory.__name__)"],
                           capture_output=True, text=True, timeout=60, cwd=modules[0].parent)
    assert probe.returncode == 0 and probe.stdout.strip() == "Memory", probe.stderr


# 2. Errors name the real cause and line ------------------------------------------------------

def test_syntax_error_names_pythons_line_and_message(tmp_path):
    bad = tmp_path / "bad_memory.py"
    bad.write_text("from design_space import MemoryProgram\nclass Memory(MemoryProgram)\n    pass\n")
    r = memarch("eval", str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    line = _one_line(r.stderr)
    assert "line 2:" in line and "expected ':'" in line and "Syntax Error @" not in line, line


def test_yaml_error_names_the_line_and_the_reason(tmp_path):
    text = (ROOT / "examples" / "quickstart.yaml").read_text().splitlines()
    k = next(i for i, s in enumerate(text) if s.startswith("seed:"))
    text[k] = text[k].replace("seed:", "seed")  # the colon forgotten on line k + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(text) + "\n")
    r = memarch("run", str(bad), runs=tmp_path / "runs")
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert f"at line {k + 1}:" in line and "could not find expected ':'" in line, line
    assert not (tmp_path / "runs").exists()


# 3. One answer to "how big is the front" -----------------------------------------------------

def test_front_size_is_the_same_in_front_status_plot_and_report(runs, tmp_path):
    from evolve.views import front_groups, front_rows

    store = Store.open(runs / NAME)
    config, _archive, rows = front_rows(store)
    groups = front_groups(rows, [o.metric for o in config.objectives])
    assert ["c0001", "c0004"] in groups  # the tie really is on the front
    size = f"{len(groups)} distinct front points ({sum(map(len, groups))} programs, ties folded)"

    front = memarch("front", NAME, "--plot", str(tmp_path / "front.svg"), runs=runs)
    assert front.returncode == 0, front.stderr
    assert size in front.stdout
    assert "c0004" not in front.stdout  # folded into c0001's row
    status = memarch("status", NAME, runs=runs)
    assert size in status.stdout, status.stdout
    as_json = json.loads(memarch("status", NAME, "--json", runs=runs).stdout)
    assert as_json["front_points"] == len(groups)
    svg = (tmp_path / "front.svg").read_text()
    assert size in svg  # the title
    labels = re.findall(r"<!-- (c\d{4}[^-]*?) -->", svg)
    assert "c0001 (+1 tied)" in labels and not any(lab.startswith("c0004") for lab in labels), labels
    report = memarch("report", NAME, "-o", str(tmp_path / "r.html"), runs=runs)
    assert report.returncode == 0, report.stderr
    assert size in (tmp_path / "r.html").read_text()


# 4. Output that pipes well -------------------------------------------------------------------

def test_piped_output_is_not_wrapped(runs, tmp_path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "runs"
    r = memarch("status", "no-such-campaign", runs=deep)
    assert r.returncode == 2
    assert len(_one_line(r.stderr)) > 120  # one line, however long
    front = memarch("front", NAME, runs=runs)
    title = next(s for s in front.stdout.splitlines() if s.startswith(f"front of {NAME}"))
    assert "hypervolume" in title and len(title) > 80


def test_diff_writes_a_patch_that_applies(runs, tmp_path):
    if shutil.which("patch") is None:
        missing("the `patch` tool (apt-get install patch)")
    store = Store.open(runs / NAME)
    old, new = store.candidate("c0001").code, store.candidate("c0003").code
    r = memarch("diff", NAME, "c0001", "c0003", runs=runs)
    assert r.returncode == 0, r.stderr
    patch = tmp_path / "x.patch"
    patch.write_text(r.stdout)
    assert r.stdout.startswith("# memarch diff") and "#   recall:" in r.stdout
    (tmp_path / "c0001.py").write_text(old)
    applied = subprocess.run(["patch", "-o", "out.py", "c0001.py", "x.patch"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=30)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (tmp_path / "out.py").read_text() == new
    stat = memarch("diff", NAME, "c0001", "c0003", "--stat", runs=runs)
    assert "1 line(s) added, 1 removed" in stat.stdout and "@@" not in stat.stdout


def test_a_real_run_prints_whole_lines_and_resume_knows_it_is_finished(tmp_path):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("name: tiny-run\nseed: 3\ntask: {name: synthetic, params: {conversations: 1}, cascade: [smoke]}\n"
                   "seeds: [bm25_rag, recency_window]\noperators: [{name: structural}]\n"
                   "budget: {evaluations: 2}\nparallel: 1\nray: {num_cpus: 1}\n")
    r = memarch("run", str(cfg), "--no-preflight", runs=tmp_path / "runs", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    hint = next(s for s in r.stdout.splitlines() if "next:" in s)
    joins = [s for s in r.stdout.splitlines() if "joins the front" in s]
    assert joins and all(s.startswith("[") and s == s.rstrip() for s in joins), joins[:1]
    assert not [s for s in r.stdout.splitlines() if s.endswith("  ")]  # no line padded to the pipe width
    assert f"memarch export {tmp_path / 'runs' / 'tiny-run'} CANDIDATE -o memory.py" in hint
    # the headline above it: the best program at no more tokens than the best seed
    assert any(re.match(r"best within tokens ≤ [\d.]+ \((bm25_rag|recency_window)\): c\d{4}", s)
               for s in r.stdout.splitlines()), r.stdout
    # 6. resume of a finished campaign says so without starting a session
    store = Store.open(tmp_path / "runs" / "tiny-run")
    sessions = len(list(store.events("session_start")))
    again = memarch("resume", runs=tmp_path / "runs")
    assert again.returncode == 0, again.stderr
    assert "is finished" in again.stdout and "nothing to resume" in again.stdout
    assert "tiny-run" in again.stderr  # which campaign it picked
    assert len(list(store.events("session_start"))) == sessions


# 5. Help that helps --------------------------------------------------------------------------

def test_help_shows_names_flags_choices_and_examples():
    import typer.main

    from evolve.cli import BACKEND_NAMES, app
    from sandboxes.backends import BACKENDS

    assert set(BACKEND_NAMES) == set(BACKENDS)
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if name == "sandbox":
            continue
        assert cmd.help and (cmd.epilog or "").startswith("Example"), name
        for p in cmd.params:
            assert p.help, f"{name} {p.name} has no description"
    front = memarch("front", "--help")
    assert front.returncode == 0
    assert "<bool>" not in front.stdout and "{run}" not in front.stdout and "Usage: memarch front [RUN]" in front.stdout
    assert re.search(r"--all\s+Show dominated", front.stdout), front.stdout
    assert re.search(r"Examples?: memarch front", front.stdout), front.stdout
    assert "--within" in front.stdout
    ev = memarch("eval", "--help").stdout
    assert "synthetic|locomo" in ev and "process|forkserver|docker" in ev and "smoke|subset|full" in ev
    version = memarch("--version")
    assert version.returncode == 0 and re.fullmatch(r"memarch \S+\n", version.stdout)
    usage = memarch("show")
    assert usage.returncode == 2
    assert "Missing argument 'RUN'" in _one_line(usage.stderr) and "memarch show RUN CANDIDATE" in usage.stderr


# 6. Sensible defaults ------------------------------------------------------------------------

def test_commands_without_run_use_the_most_recent_campaign(runs):
    r = memarch("status", "--json", runs=runs)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == NAME  # stdout stays JSON; the choice is said on stderr
    assert f"campaign: {runs / NAME}" in r.stderr
    lineage = memarch("lineage", "--format", "json", runs=runs)
    assert lineage.returncode == 0 and len(json.loads(lineage.stdout)["nodes"]) == 4
    ancestry = memarch("lineage", "c0003", "--format", "json", runs=runs)  # a candidate, not a campaign
    assert ancestry.returncode == 0, ancestry.stderr
    assert {n["id"] for n in json.loads(ancestry.stdout)["nodes"]} == {"c0001", "c0003"}
    empty = memarch("status", runs=runs.parent / "nothing-here")
    assert empty.returncode == 2 and "memarch run examples/quickstart.yaml" in _one_line(empty.stderr)


def test_resume_refuses_while_the_driver_is_alive(tmp_path):
    runs = tmp_path / "runs"
    store = Store.create(runs / "busy", dump_config(_config("busy", 5)))
    store.log("session_start", pending=0)  # a session that has not ended...
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        store.set_meta("driver", f"{socket.gethostname()}:{driver.pid}")  # ...and its driver is alive
        r = memarch("resume", "busy", runs=runs)
        assert r.returncode == 2
        assert "still running" in _one_line(r.stderr)
    finally:
        driver.kill()
        driver.wait()
    # The driver is gone but another memarch process holds the campaign's lock: refused too.
    with open(runs / "busy" / "driver.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = memarch("resume", "busy", runs=runs)
    assert r.returncode == 2 and "being driven by another memarch process" in _one_line(r.stderr)
    assert len(list(store.events("session_start"))) == 1
    store.close()
