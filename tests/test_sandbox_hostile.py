"""The hostile-program suite, on every backend this machine can run.

Each program in tests/hostile/ attacks its sandbox with static validation skipped (the
sandbox must hold even when the validator is fooled). Every run must end as a clean
result status naming the cause; no planted secret may appear anywhere in the result; no
process the program started may outlive the job; no listener may see a connection; no
file may appear outside the job's temp dir; and the same sandbox object must still run a
good program afterwards. ``gold_hunt`` walks the whole visible filesystem for gold planted
in a run database beside the checkout, in a data directory, in the temp dir and in the home
directory, and for the benchmark data files by name: it must find nothing.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sandbox_fixtures import BACKENDS, REPO, fully_fenced, make_backend, seed_job
from sandboxes.job import Job, Limits

HOSTILE = Path(__file__).resolve().parent / "hostile"
LIMITS = Limits(wall_seconds=20.0, cpu_seconds=10, memory_mb=512, max_processes=32, max_file_mb=8)
# Programs that never end get a short leash so the suite stays quick; the rest get room to finish.
SHORT = Limits(wall_seconds=1.5, cpu_seconds=1, memory_mb=512, max_processes=32, max_file_mb=8)
ENDLESS = ("infinite_loop", "sleep_forever", "fork_bomb")
# Walking and reading everything visible takes a while: the whole point is that it finds nothing.
HUNT = Limits(wall_seconds=180.0, cpu_seconds=150, memory_mb=512, max_processes=32, max_file_mb=8)
# The benchmark data files and run databases, by name, wherever they might be visible.
DATA_FILES = ("locomo10.json", "longmemeval_oracle_reassembled.json.gz", "banking77", "tasks_1-20_v1-2",
              "campaign.db")
SECRET_ENV = {"OPENAI_API_KEY": "sk-test-canary-env-7f3a", "AWS_SECRET_ACCESS_KEY": "canary-aws-91be",
              "MEMARCH_TEST_TOKEN": "canary-token-c0de"}


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


class Namespace:
    """A second network namespace joined to this one by a veth pair, with a listener inside.

    Its address (10.200.N.2) exists only on the link this test creates; nothing else is
    ever contacted. The listener appends one line per accepted connection to a log file.
    """

    LISTEN = ("import socket,sys\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
              "s.bind((sys.argv[1],int(sys.argv[2])));s.listen(64);print('up',flush=True)\n"
              "while True:\n c,_=s.accept();open(sys.argv[3],'a').write('x\\n');c.close()\n")

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.ns, self.host_if, self.ns_if = f"mxt-{tag}", f"mxv{tag}a", f"mxv{tag}b"
        net = 200 + secrets.randbelow(50)
        self.host_ip, self.ip, self.port = f"10.200.{net}.1", f"10.200.{net}.2", 18000 + secrets.randbelow(1000)
        self.log = Path(tempfile.mkdtemp(prefix="memarch-netns-")) / "accepted.log"
        self.proc = None
        for cmd in (["ip", "netns", "add", self.ns],
                    ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                    ["ip", "link", "set", self.ns_if, "netns", self.ns],
                    ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                    ["ip", "link", "set", self.host_if, "up"],
                    ["ip", "netns", "exec", self.ns, "ip", "addr", "add", f"{self.ip}/30", "dev", self.ns_if],
                    ["ip", "netns", "exec", self.ns, "ip", "link", "set", self.ns_if, "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", self.LISTEN,
                                      self.ip, str(self.port), str(self.log)], stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == b"up\n"

    def accepted(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0

    def close(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        shutil.rmtree(self.log.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def listeners():
    loop = Listener()
    ns = None
    if os.geteuid() == 0 and shutil.which("ip"):
        try:
            ns = Namespace()
        except (subprocess.CalledProcessError, AssertionError):
            ns = None
    targets = [("127.0.0.1", loop.port)]
    if ns:
        # The address really is reachable from outside a sandbox: the fence is what stops it.
        socket.create_connection((ns.ip, ns.port), timeout=2).close()
        targets.append((ns.ip, ns.port))
        deadline = time.monotonic() + 2
        while ns.accepted() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ns.accepted() == 1
    socket.create_connection(("127.0.0.1", loop.port), timeout=2).close()
    time.sleep(0.3)
    assert loop.accepted == 1
    yield {"targets": targets, "loop": loop, "ns": ns}
    loop.close()
    if ns:
        ns.close()


def plant_run_database(path: Path, gold: str) -> None:
    """A campaign database of an earlier run, with gold evidence and answers in its failures."""
    path.parent.mkdir(parents=True)
    path.parent.chmod(0o755)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE evaluations (id INTEGER PRIMARY KEY, failures TEXT)")
        db.execute("INSERT INTO evaluations (failures) VALUES (?)",
                   (json.dumps([{"question": "when?", "gold_evidence": ["D1:3"], "answer": gold}]),))
    db.close()
    path.chmod(0o644)


def plant_data_dir(root: Path, gold: str) -> None:
    """A data directory shaped like ../shared/data, with a gold answer in its LoCoMo file."""
    (root / "locomo").mkdir(parents=True)
    (root / "locomo" / "locomo10.json").write_text(json.dumps([{"qa": [{"question": "q", "answer": gold}]}]))
    for path in (root, root / "locomo", root / "locomo" / "locomo10.json"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(scope="module")
def planted():
    """Secrets in the parent's environment, home and temp dir, and gold in a run database and a
    data directory (named by MEMARCH_DATA), none of which may ever reach a sandbox."""
    token = secrets.token_hex(6)
    files = {Path.home() / f".memarch-canary-{token}": f"canary-home-{token}",
             Path(tempfile.gettempdir()) / f"memarch-canary-{token}": f"canary-tmp-{token}"}
    for path, text in files.items():
        path.write_text(text)
        path.chmod(0o644)
    run_dir = REPO / "runs" / f"memarch-hunt-{token}"
    data_dir = Path(tempfile.mkdtemp(prefix=f"memarch-hunt-data-{token}-"))
    gold = {"runs": f"gold-run-{token}", "data": f"gold-data-{token}"}
    plant_run_database(run_dir / "campaign.db", gold["runs"])
    plant_data_dir(data_dir, gold["data"])
    old = {k: os.environ.get(k) for k in [*SECRET_ENV, "MEMARCH_DATA"]}
    os.environ.update(SECRET_ENV, MEMARCH_DATA=str(data_dir))
    yield {"files": files, "values": [*SECRET_ENV.values(), *files.values(), *gold.values()],
           "gold": [*files.values(), *gold.values()],
           "names": [*(p.name for p in files), run_dir.name, data_dir.name, *DATA_FILES]}
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    for path in files:
        path.unlink(missing_ok=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)


# bubblewrap is the optional variant of the process backend: its run of the suite is marked slow.
MARKS = {"process-bwrap": [pytest.mark.slow], "docker": [pytest.mark.docker]}


@pytest.fixture(scope="module", params=[pytest.param(b, marks=MARKS.get(b, [])) for b in BACKENDS])
def backend(request, planted, listeners):
    sandbox = make_backend(request.param)
    # Warm up (the fork server imports numpy and the components) so that start-up, slow on a
    # loaded machine, is not counted against the first case's wall-clock bound.
    assert sandbox.run(seed_job()).status == "ok"
    yield request.param, sandbox
    if hasattr(sandbox, "close"):
        sandbox.close()


def survivors(token: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == token:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def escape_paths(token: str) -> list[Path]:
    return [REPO / f".memarch-escape-{token}", Path.home() / f".memarch-escape-{token}",
            Path(tempfile.gettempdir()) / f"memarch-escape-{token}", Path("/") / f"memarch-escape-{token}"]


def render(name: str, token: str, listeners, planted) -> str:
    text = (HOSTILE / f"{name}.py").read_text().replace("__TOKEN__", token)
    if name in ("network", "smuggled_import"):
        text = text.replace("__TARGETS__", repr(listeners["targets"]))
    if name == "write_outside":
        text = text.replace("__TARGETS__", repr([str(p) for p in escape_paths(token)]))
    if name == "read_secrets":
        text = text.replace("__TARGETS__", repr([str(p) for p in planted["files"]]))
    if name == "gold_hunt":  # reversed, so the program's own source in the job dir cannot match
        text = (text.replace("__CANARIES__", repr([c[::-1] for c in planted["gold"]]))
                .replace("__NAMES__", repr([n[::-1] for n in planted["names"]])))
    return text.replace("__ESCAPE__", repr(str(escape_paths(token)[0])))


# name -> (statuses it may end in, a fragment the error must contain naming the cause)
CASES = {
    "infinite_loop": ({"timeout"}, ""),
    "sleep_forever": ({"timeout"}, "wall clock"),
    "memory_bomb": ({"oom"}, "memory"),
    "fork_bomb": ({"timeout", "crashed"}, ""),
    "detached_grandchild": ({"ok"}, ""),
    "network": ({"crashed"}, "network probe"),
    "write_outside": ({"crashed"}, "write probe"),
    "read_secrets": ({"crashed"}, "secrets probe"),
    "big_stdout": ({"crashed", "timeout"}, ""),
    "hard_exit": ({"crashed"}, "code 7"),
    "segfault": ({"crashed"}, "SIGSEGV"),
    "wrong_types": ({"crashed"}, "contract violation"),
    "smuggled_import": ({"crashed"}, "smuggle probe"),
    "gold_hunt": ({"crashed"}, "hunt probe"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_program_is_contained(case, backend, listeners, planted):
    name, sandbox = backend
    if not fully_fenced(name) and case in ("network", "write_outside", "read_secrets", "detached_grandchild",
                                            "smuggled_import", "gold_hunt"):
        pytest.skip("namespaces are unavailable here (not root, no bwrap): see docs/SANDBOXES.md")
    token = "mx" + secrets.token_hex(6)
    loop_before = listeners["loop"].accepted
    ns_before = listeners["ns"].accepted() if listeners["ns"] else 0
    limits = SHORT if case in ENDLESS else HUNT if case == "gold_hunt" else LIMITS
    job = Job(program=render(case, token, listeners, planted), task="synthetic", fidelity="smoke",
              limits=limits, job_id=f"hostile-{case}")
    t0 = time.monotonic()
    try:
        result = sandbox.run(job, validate=False)
        elapsed = time.monotonic() - t0
        statuses, cause = CASES[case]
        assert result.status in statuses, (result.status, result.error[:2000])
        assert cause in result.error, result.error[:2000]
        assert elapsed < limits.wall_seconds + 10, elapsed
        blob = result.to_json()
        for value in planted["values"]:
            assert value not in blob, f"secret {value} leaked"
        deadline = time.monotonic() + 2.0
        while survivors(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert survivors(token) == [], "a process of the job outlived it"
        time.sleep(0.05 if case not in ("network", "smuggled_import") else 0.5)
        assert listeners["loop"].accepted == loop_before, "the loopback listener got a connection"
        if listeners["ns"]:
            assert listeners["ns"].accepted() == ns_before, "the namespace listener got a connection"
        if case in ("network", "smuggled_import"):
            assert "CONNECTED" not in result.error
        if case == "read_secrets":
            assert "env=" in result.error  # the probe ran and reported what it found
        if case == "gold_hunt":
            report = result.error.rsplit("hunt probe: ", 1)[-1]
            assert report.rstrip().endswith("found=[]"), report[:2000]
            # the walk was real: it read thousands of files and saw the harness it runs under
            assert int(report.split("files=", 1)[1].split()[0]) > 1000 and "harness=True" in report, report
    finally:
        escaped = [p for p in escape_paths(token) if p.exists()]
        for path in escaped:
            path.unlink()
    assert escaped == [], f"files written outside the job dir: {escaped}"


def test_sandbox_still_works_after_the_suite(backend):
    """The campaign goes on: the same sandbox object runs a good program after all that."""
    _name, sandbox = backend
    result = sandbox.run(seed_job())
    assert result.status == "ok", result.error
    assert result.metrics["records"] > 0
