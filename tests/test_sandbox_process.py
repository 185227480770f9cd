"""The process backend: what a program sees from inside, and how outcomes are reported.

The "inside view" test runs a program that reports its uid, groups, cwd, environment,
network interfaces, visible processes and what it can read, on every process-style
backend (plain, bubblewrap, fork server).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import design_space
import sandboxes
from sandbox_fixtures import REPO, fully_fenced, interpreter_entries, make_backend, seed_job
from sandboxes.backends import fences, get_sandbox
from sandboxes.backends.process import ProcessSandbox, decode_status, job_env
from sandboxes.job import Job, Limits

INSIDE = '''
import importlib.util, json, os
from design_space import MemoryProgram, Recall

def _try(fn):
    try:
        return fn()
    except OSError as exc:
        return exc.__class__.__name__

class Memory(MemoryProgram):
    def encode(self, event):
        report = {
            "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
            "env": sorted(os.environ), "pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
            "ifaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]],
            "home": _try(lambda: sorted(os.listdir(HOME))),
            "tmp": _try(lambda: sorted(os.listdir(TMP))),
            "cache": _try(lambda: open(CACHE_FILE).read()),
            "root_write": _try(lambda: open("/memarch-inside-probe", "w").close() or "WRITTEN"),
            "root": sorted(os.listdir("/")),
            "checkout": _try(lambda: sorted(os.listdir(CHECKOUT))),
            "prefix": _try(lambda: sorted(os.listdir(PREFIX))),
            "bin": _try(lambda: sorted(os.listdir(BIN))),
            "seed": _try(lambda: list(os.stat(importlib.util.find_spec(SEED_MODULE).origin)[1:3])),
        }
        raise RuntimeError("REPORT" + json.dumps(report) + "END")

    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
PROCESS_STYLE = ["process", "process-bwrap", "forkserver"]


@pytest.fixture(scope="module", params=PROCESS_STYLE)
def sandbox(request):
    box = make_backend(request.param)
    yield request.param, box
    if hasattr(box, "close"):
        box.close()


def _report(result) -> dict:
    text = result.error
    return json.loads(text[text.rindex("REPORT") + 6:text.rindex("END")])


def test_seed_scores_and_reports_resources(sandbox):
    _name, box = sandbox
    result = box.run(seed_job())
    assert result.status == "ok", result.error
    assert result.metrics["records"] > 0 and 0 <= result.metrics["recall"] <= 1
    assert result.resources["wall_s"] > 0


def test_inside_view(sandbox, tmp_path, monkeypatch):
    name, box = sandbox
    if not fully_fenced(name):
        pytest.skip("namespaces are unavailable here (not root, no bwrap)")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-inside-canary")
    canary = Path.home() / f".memarch-inside-{secrets.token_hex(4)}"
    canary.write_text("x")
    cache = Path(tempfile.mkdtemp(prefix="memarch-embcache-"))  # under the hidden temp dir on purpose
    cache.chmod(0o755)  # the sandbox uid reads it, as it reads caches sandboxes/embed_cache.py writes
    (cache / "vectors.txt").write_text("cached-vectors")
    program = (INSIDE.replace("HOME", repr(str(Path.home()))).replace("TMP", repr(tempfile.gettempdir()))
               .replace("CACHE_FILE", repr(str(cache / "vectors.txt"))).replace("CHECKOUT", repr(str(REPO)))
               .replace("PREFIX", repr(sys.prefix)).replace("BIN", repr(os.path.dirname(sys.executable)))
               .replace("SEED_MODULE", repr("design_space.seeds.recency_window")))
    try:
        result = box.run(Job(program=program, task="synthetic", fidelity="smoke", limits=Limits(wall_seconds=30),
                             embed_cache=str(cache)), validate=False)
    finally:
        canary.unlink()
        shutil.rmtree(cache)
    report = _report(result)
    assert report["uid"] >= fences.UID_BASE if os.geteuid() == 0 else report["uid"] == os.getuid()
    assert report["groups"] in ([], [report["gid"]])
    assert report["cwd"].startswith(os.path.join(tempfile.gettempdir(), "memarch-job-"))
    # the allow-list, the clean env and the GPU assignment (CPU job: CUDA_VISIBLE_DEVICES="")
    assert set(report["env"]) <= set(fences.ENV_ALLOW) | set(job_env(seed_job(), "/x")) | {"PWD"}  # bwrap sets PWD
    assert "OPENAI_API_KEY" not in report["env"]
    assert report["ifaces"] == ["lo"]
    assert report["pids"] <= 5, "the program can see processes outside its job"
    assert canary.name not in str(report["home"])
    # Wherever the checkout lives (CI clones under the temp dir too), the temp dir shows the job's own
    # things, and the way to the interpreter when a virtualenv lives under it.
    on_path = interpreter_entries(tempfile.gettempdir())
    assert all(n.startswith(("memarch-job-", "memarch-embcache-")) or n in on_path for n in report["tmp"]), report["tmp"]
    assert set(report["root"]) <= {"bin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "opt",
                                   *(Path(p).parts[1] for p in (sys.prefix, sys.base_prefix, tempfile.gettempdir(),
                                                                fences.model_cache()))}, report["root"]
    # The checkout is invisible, or (a virtualenv made inside it) holds that venv and nothing else.
    if interpreter_entries(REPO):
        assert set(report["checkout"]) <= interpreter_entries(REPO), f"the checkout is visible: {report['checkout']}"
    else:
        assert report["checkout"] in ("FileNotFoundError", "PermissionError"), "the checkout is visible"
    if sys.prefix != sys.base_prefix:  # a virtualenv: its interpreter, config and packages, not its scripts
        assert set(report["prefix"]) <= {"bin", "lib", "lib64", "pyvenv.cfg"}, report["prefix"]
        assert all(n.startswith("python") for n in report["bin"]), report["bin"]
    # The sandbox imports the very files of the code that launched it, not another copy.
    seed = (Path(design_space.__file__).resolve().parent / "seeds" / "recency_window.py").stat()
    assert report["seed"] == [seed.st_ino, seed.st_dev], "the sandbox imported another copy of design_space"
    assert report["cache"] == "cached-vectors", "the job's embedding cache must stay readable"
    assert report["root_write"] in ("OSError", "PermissionError")
    assert not Path("/memarch-inside-probe").exists()


def test_concurrent_jobs_on_one_sandbox_do_not_interfere(sandbox):
    _name, box = sandbox
    results = [None, None]

    def go(i):
        results[i] = box.run(seed_job())

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["ok", "ok"]
    assert results[0].metrics["recall"] == results[1].metrics["recall"]


def test_validation_is_on_by_default():
    hostile = (Path(__file__).parent / "hostile" / "smuggled_import.py").read_text()
    hostile = hostile.replace("__TARGETS__", "[]").replace("__ESCAPE__", "'/nonexistent'")
    result = ProcessSandbox().run(Job(program=hostile.replace("__TOKEN__", "x"), task="synthetic",
                                      fidelity="smoke"))
    assert result.status == "invalid", result.error


def test_wrapped_deaths_are_named():
    limits = Limits(cpu_seconds=7)
    assert decode_status((128 + signal.SIGSEGV) << 8, limits, True, "").error.startswith("killed by signal SIGSEGV")
    cpu = decode_status((128 + signal.SIGXCPU) << 8, limits, True, "")
    assert cpu.status == "timeout" and "7 s" in cpu.error
    plain = decode_status(3 << 8, limits, False, "boom")
    assert plain.status == "crashed" and "code 3" in plain.error and "boom" in plain.error
    assert decode_status(signal.SIGKILL, limits, False, "").error.startswith("killed by signal SIGKILL")


def test_registry_reuses_one_instance_per_backend_and_options():
    assert get_sandbox("process") is get_sandbox("process")
    assert get_sandbox("process", bwrap=False) is not get_sandbox("process")
    with pytest.raises(ValueError, match="unknown sandbox backend 'nope'"):
        get_sandbox("nope")


def test_cpu_limit_fires_even_though_the_job_has_its_own_pid_namespace(sandbox):
    # A namespace's PID 1 ignores SIGXCPU; the harness runs as PID 2 under a small init.
    _name, box = sandbox
    spin = (Path(__file__).parent / "hostile" / "infinite_loop.py").read_text().replace("__TOKEN__", "mxcpu")
    result = box.run(Job(program=spin, task="synthetic", fidelity="smoke",
                         limits=Limits(wall_seconds=60, cpu_seconds=1)), validate=False)
    assert result.status == "timeout" and "CPU limit of 1 s" in result.error, result.error


def test_the_view_binds_nothing_beyond_the_allow_list():
    """No bound source holds the checkout's runs/, tests/ or .git, the data directory, the whole
    home or the whole temp dir; the packages come from the running code, at the neutral root."""
    from sandboxes.backends import view
    from sandboxes.tasks.params import data_root

    fs = view.allowed(None, ("unshare",))
    sources = [src for src, _dst in fs.binds]
    secret = [REPO / "runs", REPO / "tests", REPO / ".git", data_root(), Path.home(), Path(tempfile.gettempdir())]
    for path in map(str, secret):
        holders = [s for s in sources if path == s or path.startswith(s.rstrip("/") + "/")]
        assert holders == [], f"{path} is visible through {holders}"
    packages = {dst: src for src, dst in fs.binds if dst.startswith(view.CODE_ROOT + "/")}
    assert packages == {f"{view.CODE_ROOT}/design_space": str(Path(design_space.__file__).resolve().parent),
                        f"{view.CODE_ROOT}/sandboxes": str(Path(sandboxes.__file__).resolve().parent)}
