"""Resume after kill -9 and after Ctrl-C, on real Ray with real subprocess sandboxes and real SQLite.

A campaign runs as `memarch run` in its own session; the whole process group (driver, Ray's
raylet/GCS/workers, sandboxes) is killed with SIGKILL once some evaluations exist, then
`memarch resume` finishes it. Checked: nothing finished before the kill is rerun or rewritten,
every candidate has at most one result per stage, the budget is met exactly, and every program
both this run and an uninterrupted run of the same seed evaluated scored the same.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
BUDGET = 12


def config(budget: int = BUDGET, parallel: int = 1) -> str:
    return f"""
name: resumable
seed: 11
task: {{name: synthetic, params: {{conversations: 2}}, cascade: [smoke, full]}}
seeds: [bm25_rag, recency_window]
objectives: [{{metric: recall, direction: max}}, {{metric: tokens, direction: min}}]
operators: [{{name: structural}}]
budget: {{evaluations: {budget}}}
parallel: {parallel}
ray: {{num_cpus: 2}}
"""
# Measured per run, not properties of the program: they differ between two runs of one program.
NOISY = ("_ms", "wall", "cpu", "rss", "latency")


def _env(tag: str) -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "COLUMNS": "160",
            "MEMARCH_TEST_TAG": tag, "PYTHONPATH": str(ROOT)}


def _cli(*args: str, tag: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evolve.cli", *args], cwd=ROOT, env=_env(tag),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)


def _tagged(tag: str) -> list[int]:
    """Processes started on behalf of this test (Ray daemons inherit the environment of the driver)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if f"MEMARCH_TEST_TAG={tag}".encode() in (d / "environ").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def _kill_all(proc: subprocess.Popen, tag: str) -> None:
    """SIGKILL the campaign's process group, then anything it started that left the group."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    deadline = time.time() + 20
    while (left := _tagged(tag)) and time.time() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.3)
    assert not _tagged(tag), "processes of the killed campaign survived"


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _wait_for(db: Path, proc: subprocess.Popen, n: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"campaign ended before {n} evaluations: {proc.stderr.read()[-2000:]}")
        if db.exists():
            try:
                if _rows(db, "SELECT COUNT(*) FROM evaluations")[0][0] >= n:
                    return
            except sqlite3.OperationalError:
                pass  # the schema is being created
        time.sleep(0.2)
    raise AssertionError(f"no {n} evaluations within {timeout} s")


def _finish(args: list[str], tag: str, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = _cli(*args, tag=tag)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        _kill_all(proc, tag) if proc.poll() is None else None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _deterministic(metrics: str) -> dict[str, float]:
    import json

    return {k: v for k, v in json.loads(metrics).items() if not any(s in k for s in NOISY)}


def _check_consistent(db: Path, budget: int = BUDGET) -> None:
    assert _rows(db, "SELECT COUNT(*) FROM candidates")[0][0] == budget
    done = _rows(db, "SELECT json_extract(data, '$.candidate') FROM events WHERE kind = 'done'")
    assert len(done) == len(set(done)) == budget, "a candidate finished twice or never"
    for cid, in _rows(db, "SELECT id FROM candidates"):
        stages = [s for s, in _rows(db, f"SELECT fidelity FROM evaluations WHERE candidate_id = '{cid}' ORDER BY id")]
        assert stages in (["smoke"], ["smoke", "full"]), (cid, stages)


@pytest.fixture
def tag():
    t = uuid.uuid4().hex
    yield t
    for pid in _tagged(t):  # never leave a Ray daemon behind, even when a test fails
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_and_resume(tmp_path: Path, tag: str, budget: int = BUDGET, parallel: int = 1,
                     kill_after: int = 7) -> tuple[Path, Path, list[tuple], list[tuple]]:
    cfg = tmp_path / "resumable.yaml"
    cfg.write_text(config(budget, parallel))
    runs = tmp_path / "runs"
    db = runs / "resumable" / "campaign.db"
    proc = _cli("run", str(cfg), "--runs-dir", str(runs), "--no-preflight", tag=tag)
    _wait_for(db, proc, kill_after)
    _kill_all(proc, tag)
    before = _rows(db, "SELECT id, candidate_id, fidelity, finished_at FROM evaluations ORDER BY id")
    created = _rows(db, "SELECT id, hash FROM candidates ORDER BY seq")
    assert kill_after <= len(before) < 2 * budget

    r = _finish(["resume", "resumable", "--runs-dir", str(runs)], tag)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{budget}/{budget}" in r.stdout and "front of resumable" in r.stdout
    _check_consistent(db, budget)
    after = _rows(db, "SELECT id, candidate_id, fidelity, finished_at FROM evaluations ORDER BY id")
    assert after[: len(before)] == before, "an evaluation finished before the kill was rerun or rewritten"
    assert _rows(db, "SELECT id, hash FROM candidates ORDER BY seq")[: len(created)] == created
    sessions = _rows(db, "SELECT kind FROM events WHERE kind IN ('session_start', 'session_end') ORDER BY id")
    assert [k for k, in sessions] == ["session_start", "session_start", "session_end"]  # kill -9 wrote no end
    # the wall clock spent before the kill still counts against budget.wall_seconds
    starts = [t for t, k in _rows(db, "SELECT time, kind FROM events WHERE kind = 'session_start' ORDER BY id")]
    killed = max(t for _i, _c, _f, t in before) - starts[0]
    resumed = _rows(db, "SELECT MAX(time) FROM events")[0][0] - starts[1]
    elapsed = float(_rows(db, "SELECT value FROM meta WHERE key = 'elapsed_s'")[0][0])
    assert elapsed >= killed + resumed - 1.0, (elapsed, killed, resumed)
    return cfg, db, before, created


def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path, tag):
    _kill_and_resume(tmp_path, tag, budget=7, parallel=2, kill_after=4)


@pytest.mark.slow
def test_resumed_run_matches_an_uninterrupted_run(tmp_path, tag):
    cfg, db, before, created = _kill_and_resume(tmp_path, tag)
    runs2 = tmp_path / "runs2"
    r2 = _finish(["run", str(cfg), "--runs-dir", str(runs2), "--no-preflight"], tag)
    assert r2.returncode == 0, r2.stderr[-2000:]
    db2 = runs2 / "resumable" / "campaign.db"
    _check_consistent(db2)
    q = ("SELECT c.hash, e.fidelity, e.status, e.metrics FROM evaluations e JOIN candidates c ON c.id = e.candidate_id")
    resumed = {(h, f): (s, _deterministic(m)) for h, f, s, m in _rows(db, q)}
    straight = {(h, f): (s, _deterministic(m)) for h, f, s, m in _rows(db2, q)}
    common = set(resumed) & set(straight)
    # parallel 1: up to the kill, both runs made the same programs in the same order
    straight_order = [h for h, in _rows(db2, "SELECT hash FROM candidates ORDER BY seq")]
    assert [h for _i, h in created] == straight_order[: len(created)]
    assert len(common) >= len(before)
    for key in common:
        assert resumed[key] == straight[key], key


@pytest.mark.slow
def test_ctrl_c_stops_gracefully_and_resumes(tmp_path, tag):
    cfg = tmp_path / "resumable.yaml"
    cfg.write_text(config())
    runs = tmp_path / "runs"
    db = runs / "resumable" / "campaign.db"
    proc = _cli("run", str(cfg), "--runs-dir", str(runs), "--no-preflight", tag=tag)
    _wait_for(db, proc, 5)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)  # one Ctrl-C: to the driver only, as a terminal would to the foreground job
    out, err = proc.communicate(timeout=120)
    stopped_in = time.time() - t0
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "memarch resume" in out + err
    ends = _rows(db, "SELECT json_extract(data, '$.reason') FROM events WHERE kind = 'session_end'")
    assert ends and "interrupt" in ends[-1][0]
    assert stopped_in < 60
    _kill_all(proc, tag)  # Ray daemons of the stopped driver

    r = _finish(["resume", "resumable", "--runs-dir", str(runs)], tag)
    assert r.returncode == 0, r.stderr[-2000:]
    _check_consistent(db)


@pytest.mark.slow
def test_two_campaigns_side_by_side_do_not_clash(tmp_path, tag):
    """Two drivers at once, same runs directory: each gets its own Ray and its own database."""
    runs = tmp_path / "runs"
    procs = []
    for name in ("left", "right"):
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(config(6, 1).replace("name: resumable", f"name: {name}"))
        procs.append(_cli("run", str(cfg), "--runs-dir", str(runs), "--no-preflight", tag=tag))
    try:
        outs = [p.communicate(timeout=400) for p in procs]
    finally:
        for p in procs:
            _kill_all(p, tag)
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    for name in ("left", "right"):
        _check_consistent(runs / name / "campaign.db", 6)
    # a third run of an existing name refuses instead of writing into the other's database
    clash = _finish(["run", str(tmp_path / "left.yaml"), "--runs-dir", str(runs), "--no-preflight"], tag)
    assert clash.returncode == 2 and "already holds a campaign" in clash.stderr

