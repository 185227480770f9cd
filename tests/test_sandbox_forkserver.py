"""The fork server: warm, crash-proof, secret-free, and as fenced as the process backend."""
from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from sandbox_fixtures import seed_job
from sandboxes.backends.forkserver import ForkserverSandbox
from sandboxes.job import Job, Limits

HOSTILE = Path(__file__).resolve().parent / "hostile"


@pytest.fixture
def server(monkeypatch):
    # Planted before the server starts: it must not inherit it.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-forkserver-canary")
    box = ForkserverSandbox()
    yield box
    box.close()


def _server_pid(box: ForkserverSandbox) -> int:
    assert box._proc is not None and box._proc.poll() is None
    return box._proc.pid


def test_server_survives_a_crashing_child(server):
    assert server.run(seed_job()).status == "ok"
    pid = _server_pid(server)
    segfault = (HOSTILE / "segfault.py").read_text().replace("__TOKEN__", "mxfsegv")
    crashed = server.run(Job(program=segfault, task="synthetic", fidelity="smoke"), validate=False)
    assert crashed.status == "crashed" and "SIGSEGV" in crashed.error
    after = server.run(seed_job())
    assert after.status == "ok", after.error
    assert _server_pid(server) == pid, "the server must not restart after a child crashes"


def test_a_killed_server_is_restarted_on_the_next_job(server):
    assert server.run(seed_job()).status == "ok"
    old = _server_pid(server)
    os.kill(old, signal.SIGKILL)
    server._proc.wait()
    result = server.run(seed_job())
    assert result.status == "ok", result.error
    assert _server_pid(server) != old


def test_server_environment_holds_no_secrets(server):
    server.run(seed_job())
    environ = Path(f"/proc/{_server_pid(server)}/environ").read_bytes()
    assert b"sk-forkserver-canary" not in environ
    assert b"OPENAI_API_KEY" not in environ


def test_server_enforces_the_wall_clock_and_keeps_serving(server):
    sleeper = (HOSTILE / "sleep_forever.py").read_text().replace("__TOKEN__", "mxfsleep")
    result = server.run(Job(program=sleeper, task="synthetic", fidelity="smoke",
                            limits=Limits(wall_seconds=1.0)), validate=False)
    assert result.status == "timeout" and "1 s wall clock" in result.error
    assert server.run(seed_job()).status == "ok"


@pytest.mark.slow  # importing torch takes seconds
def test_preloaded_torch_is_already_imported_in_the_child():
    probe = '''
import sys
from design_space import MemoryProgram, Recall
WARM = "torch" in sys.modules
class Memory(MemoryProgram):
    def encode(self, event):
        raise RuntimeError(f"warm={WARM}")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
    job = Job(program=probe, task="synthetic", fidelity="smoke", limits=Limits(wall_seconds=60))
    cold, warm = ForkserverSandbox(), ForkserverSandbox(preload_torch=True)
    try:
        assert "warm=False" in cold.run(job, validate=False).error
        assert "warm=True" in warm.run(job, validate=False).error
    finally:
        cold.close()
        warm.close()


PROC_PROBE = '''
import os
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        raise RuntimeError(f"me={os.getpid()} pids={pids}")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''


def test_jobs_share_one_pid_namespace_that_is_swept_between_them(server):
    """A job is never PID 1 (SIGXCPU must reach it), sees only the namespace's init and itself, and
    sees nothing of an earlier job that left a detached grandchild behind."""
    from sandboxes.backends import fences

    if not fences.probe()["namespaces"]:
        pytest.skip("namespaces are unavailable here (not root): see docs/SANDBOXES.md")
    linger = (HOSTILE / "detached_grandchild.py").read_text().replace("__TOKEN__", "mxflinger")
    assert server.run(Job(program=linger, task="synthetic", fidelity="smoke",
                          limits=Limits(wall_seconds=20)), validate=False).status == "ok"
    probe = server.run(Job(program=PROC_PROBE, task="synthetic", fidelity="smoke"), validate=False)
    assert probe.status == "crashed", probe.error
    found = re.search(r"me=(\d+) pids=\[([\d, ]*)\]", probe.error)
    assert found, probe.error
    me, pids = int(found[1]), [int(p) for p in found[2].split(",")]
    assert me != 1
    assert pids == [1, me], f"the job sees processes other than the init and itself: {pids}"


@pytest.mark.parametrize("backend", ["forkserver", "process"])
def test_jobs_write_no_bytecode_cache(backend):
    """A program is compiled once per job: caching its bytecode would be a wasted write per job."""
    from sandboxes.backends import get_sandbox

    probe = '''
import sys
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        raise RuntimeError(f"nobytecode={sys.dont_write_bytecode}")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
    box = get_sandbox(backend)
    try:
        result = box.run(Job(program=probe, task="synthetic", fidelity="smoke", limits=Limits(wall_seconds=60)),
                         validate=False)
    finally:
        getattr(box, "close", lambda: None)()
    assert "nobytecode=True" in result.error, result.error


def test_networkx_is_imported_by_the_server_only_once_a_program_names_it(server):
    """The server starts without networkx (every fork would copy its pages); the first job whose
    program uses a graph component makes the server import it, and later jobs find it warm."""
    from design_space.seeds import seed_source

    probe = '''
import sys
from design_space import MemoryProgram, Recall
WARM = "network" + "x" in sys.modules  # not named whole: naming it asks the server for it
class Memory(MemoryProgram):
    def encode(self, event):
        raise RuntimeError(f"warm={WARM}")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
    job = Job(program=probe, task="synthetic", fidelity="smoke", limits=Limits(wall_seconds=60))
    assert "warm=False" in server.run(job, validate=False).error
    graph = server.run(Job(program=seed_source("hipporag"), task="synthetic", fidelity="smoke",
                           limits=Limits(wall_seconds=60)))
    assert graph.status == "ok", graph.error
    assert "warm=True" in server.run(job, validate=False).error
