"""A warm fork server: the process sandbox's fences without paying for interpreter start-up.

The server is a long-lived child started with a clean environment (so nothing secret is
in its memory to inherit). It imports numpy, ``design_space``, the embedders, the catalogue's
components and the harness once (torch too when asked; networkx and the components built on it
when a job's program first names them), then forks one child per job. Each child applies the
same fences as the process backend — new session, rlimits, no_new_privs, and as root a
private network and mount namespace, the allow-list view (`view`) and a job-specific uid —
and runs the harness replay. As root the server's jobs run in a PID namespace of its own
whose init is a small process forked once (`PidNamespace`): a job is never PID 1 (the kernel
ignores SIGXCPU and other default-action signals for an init), and after each job the init
kills whatever the job left in the namespace, so nothing of a job outlives it. The server
waits for each child itself: the wall clock, and for a GPU job the resident-size watch that
stands in for its address-space limit (`process.wait_job`). A crashing child is just a wait
status; the server carries on.

Why so: on a virtual machine a fork of the warm server and its exit cost several ms of CPU,
growing with the server's size (page tables: ~7 ms at 49 MB, ~4 ms at 35 MB); a PID namespace
per job needed a second fork (its init) per job, and libraries no job uses only make every fork dearer.

Wire: the launcher writes one JSON request per line on the server's stdin and reads one
JSON reply per line from its stdout. Run ``python -I -m sandboxes.backends.forkserver
[MODULE ...]`` to start a server that preloads MODULEs.
"""
from __future__ import annotations

import atexit
import dataclasses
import fcntl
import functools
import gc
import importlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sandboxes.backends import fences, view
from sandboxes.backends.base import Launch, run_job
from sandboxes.backends.process import decode_status, job_env, kill_group, kill_job, oom_message, tail_of, wait_job
from sandboxes.job import Job, Limits, Result

PRELOAD = ("numpy", "design_space", "design_space.embedders", "sandboxes.harness", "sandboxes.embed_cache")
COMPONENTS = Path(__file__).resolve().parents[2] / "design_space" / "components"
READY_TIMEOUT = 120.0
GRACE = 15.0  # the server enforces the job's wall clock; this only catches a wedged server


# Imported by the server only once a job's program asks for them (networkx holds 14 of the
# server's ~49 MB, and every fork copies, and every exit tears down, the page tables of all of it).
DEFERRED_LIBRARIES = ("networkx",)


def _imports(text: str, names: tuple[str, ...] | set[str]) -> bool:
    heads = tuple(h for n in names for h in (f"import {n}", f"from {n} ", f"from {n}."))
    return any(line.startswith(heads) for line in text.splitlines())


def _component_sources() -> dict[str, str]:
    out = {}
    for path in sorted(COMPONENTS.rglob("*.py")):
        rel = path.relative_to(COMPONENTS.parents[1]).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path.read_text(encoding="utf-8", errors="replace")
    return out


@functools.lru_cache(maxsize=2)
def component_modules(deferred: bool = False) -> tuple[str, ...]:
    """The building blocks candidates import, minus those that pull torch at import time, and
    split by whether they pull a deferred library (directly or through another component).

    torch is preloaded only on request: it is slow to import and its address space alone
    would eat most of a small RLIMIT_AS in every child.
    """
    sources = {m: t for m, t in _component_sources().items() if not _imports(t, ("torch",))}
    heavy = {m for m, t in sources.items() if _imports(t, DEFERRED_LIBRARIES)}
    while True:  # components importing a heavy component are heavy too
        more = {m for m, t in sources.items() if m not in heavy and _imports(t, heavy)}
        if not more:
            break
        heavy |= more
    return tuple(m for m in sources if (m in heavy) == deferred)


def deferred_for(program: str) -> list[str]:
    """What the server must import before forking a job running `program` (a plain text scan:
    a mention in a comment only costs an early import)."""
    wanted = [m for m in component_modules(deferred=True) if m in program]
    wanted += [lib for lib in DEFERRED_LIBRARIES if lib in program]
    return [*DEFERRED_LIBRARIES, *wanted] if wanted else []


# ---- server side -------------------------------------------------------------------------

_PLANS: dict[str, list] = {}  # packages (as JSON) -> view.relocation, made once in the server
_OWN_NET: list[bool] = []  # the server moved itself into a private, empty network namespace


def _private_net() -> bool:
    """Move the server into an empty network namespace of its own, once; its children inherit it.

    Jobs run one at a time per server and nothing of a job outlives it (its PID namespace ends
    with it), and a job's uid holds no capability there to change the namespace: sharing it is
    as closed as one per job, without paying for a namespace's creation and teardown per job.
    """
    if not _OWN_NET:
        try:
            fences.unshare(fences.CLONE_NEWNET)
            _OWN_NET.append(True)
        except OSError:
            _OWN_NET.append(False)
    return _OWN_NET[0]


def _plan(packages: dict[str, str]) -> list:
    key = json.dumps(packages, sort_keys=True)
    if key not in _PLANS:
        _PLANS[key] = view.relocation(packages)
    return _PLANS[key]


SWEEP_SECONDS = 5.0  # a process the init cannot reap in this long is stuck in the kernel


class PidNamespace:
    """The server's jobs' PID namespace and its init, made once (by the first isolated job).

    After `unshare(CLONE_NEWPID)` every child the server forks lands in the new namespace; the
    first one is its PID 1: this init. It only reaps orphans and, on `sweep`, SIGKILLs every
    other process in the namespace (``kill(-1)`` from an init reaches exactly those) and reaps
    them. It dies with the server (PDEATHSIG), which ends the namespace and all in it.
    """

    def __init__(self) -> None:
        fences.unshare(fences.CLONE_NEWPID)
        cmd_r, cmd_w = os.pipe()
        ack_r, ack_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(cmd_w)
            os.close(ack_r)
            self._init(cmd_r, ack_w)  # never returns
        os.close(cmd_r)
        os.close(ack_w)
        self.pid, self._cmd, self._ack = pid, cmd_w, ack_r

    @staticmethod
    def _init(cmd: int, ack: int) -> None:
        try:
            os.setsid()  # out of the server's group: a job's kill_group never reaches it
            # (had the server died before this line, the read below sees the pipe closed and ends it)
            fences.prctl(fences.PR_SET_PDEATHSIG, signal.SIGKILL)
            # Hold nothing of the server's but these two pipes (not its stdin/stdout to the launcher).
            cmd, ack = fcntl.fcntl(cmd, fcntl.F_DUPFD, 1000), fcntl.fcntl(ack, fcntl.F_DUPFD, 1001)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 1000)
            os.closerange(1002, 65536)
            wake_r, wake_w = os.pipe()
            os.set_blocking(wake_w, False)
            signal.signal(signal.SIGCHLD, lambda *_: None)
            signal.set_wakeup_fd(wake_w)
            while True:
                ready, _, _ = select.select([cmd, wake_r], [], [])
                if wake_r in ready:
                    os.read(wake_r, 4096)
                PidNamespace._reap()
                if cmd in ready:
                    if not os.read(cmd, 1):
                        break  # the server closed the pipe: it is going away
                    os.write(ack, b"k" if PidNamespace._kill_all() else b"s")
        finally:
            os._exit(0)

    @staticmethod
    def _reap() -> None:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass

    @staticmethod
    def _kill_all() -> bool:
        """SIGKILL and reap all but this init; False if something would not die in time."""
        deadline = time.monotonic() + SWEEP_SECONDS
        while time.monotonic() < deadline:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return True  # no process left but this one
            try:
                os.waitpid(-1, 0)  # the killed become this init's children (orphans) and zombies
            except ChildProcessError:
                time.sleep(0.001)  # a zombie of the server's own (reaped there) is still listed
        return False

    def sweep(self) -> None:
        os.write(self._cmd, b"k")
        if os.read(self._ack, 1) != b"k":
            raise RuntimeError("a job's processes survived the sweep of its PID namespace")


def _child(req: dict, out_fd: int, plan: list | None = None, own_net: bool = False) -> None:
    """In the forked child: fence in, run the harness."""
    code = 1
    try:
        os.setsid()
        fences.prctl(fences.PR_SET_PDEATHSIG, signal.SIGKILL)  # the server's death ends the job
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, 65536)
        isolate = req["isolate"]
        fences.enter(req["workdir"], Limits(**req["limits"]), isolate, req["binds"], req["links"],
                     nproc=req["nproc"], devices=req["devices"], net=not own_net)
        if isolate:
            fences.mount_proc()
            view.relocate_modules(req["packages"], plan=plan)  # later imports come from the view's code root
        if req["uid"] is not None:
            fences.drop_privileges(req["uid"])
        os.environ.clear()
        os.environ.update(req["env"])
        os.chdir(req["workdir"])
        from sandboxes import harness
        harness.main(["job.json", "stream.jsonl", "transcript.json"])  # ends with os._exit(0)
    except BaseException as exc:  # noqa: BLE001 - report, never return into the server loop
        try:
            os.write(2, f"fork server child: {exc.__class__.__name__}: {exc}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


def _wait(pid: int, limits: Limits, uid: int | None) -> tuple[str, int, object]:
    outcome = wait_job(pid, limits, uid)
    if outcome != "exited":
        kill_job(pid)
    _, status, rusage = os.wait4(pid, 0)
    kill_group(pid)  # whatever the job left in its session
    return outcome, status, rusage


_NS: list[PidNamespace] = []


def _load_deferred(names: list[str]) -> None:
    """Import the deferred modules a job needs (only those: the request names them, this decides)."""
    allowed = set(DEFERRED_LIBRARIES) | set(_DEFERRED)
    todo = [n for n in names if n in allowed and n not in sys.modules]
    for name in todo:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - it fails again, and is reported, in the job
            pass
    if todo:
        _PLANS.clear()  # a relocation plan lists the packages imported when it was made
        _prepare_footprint()
        gc.collect()
        gc.freeze()  # as at start: children must not touch the new heap


_DEFERRED: list[str] = []


def _prepare_footprint() -> None:
    """Sort the preloaded modules' globals for the footprint once here, not in every job."""
    try:
        from sandboxes.footprint import prepare
    except Exception:  # noqa: BLE001 - the job imports (and reports) it
        return
    prepare()


def run_one(req: dict) -> dict:
    """Fork one job; isolated jobs run in the server's PID namespace, swept after each job."""
    _load_deferred(req.get("preload", []))
    isolate = req["isolate"]
    plan = _plan(req["packages"]) if isolate else None
    own_net = _private_net() if isolate else False
    if isolate and not _NS:
        _NS.append(PidNamespace())
    out_fd = os.open(os.path.join(req["workdir"], "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t0 = time.perf_counter()
    try:
        pid = os.fork()
        if pid == 0:
            _child(req, out_fd, plan, own_net)
    finally:
        os.close(out_fd)
    outcome, status, rusage = _wait(pid, Limits(**req["limits"]), req["uid"])
    reply = {"outcome": outcome, "status": status, "wall": time.perf_counter() - t0,
             "cpu": rusage.ru_utime + rusage.ru_stime, "rss_mb": rusage.ru_maxrss / 1024}
    if isolate:
        try:
            _NS[0].sweep()
        except (OSError, RuntimeError):
            reply["restart"] = True  # the server exits after this reply: its namespace dies with it
    return reply


def serve(preload: list[str]) -> None:
    _DEFERRED.extend(component_modules(deferred=True))
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a block that fails to import is imported (and fails) in the job
            pass
    _prepare_footprint()
    # Children must not touch the preloaded heap: a GC pass there would copy every page.
    gc.collect()
    gc.freeze()
    out = sys.stdout.fileno()
    os.write(out, b"ready\n")
    for line in sys.stdin.buffer:
        try:
            reply = run_one(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a bad request must not end the server
            reply = {"error": f"{exc.__class__.__name__}: {exc}"}
        os.write(out, json.dumps(reply).encode() + b"\n")
        if reply.get("restart"):
            break  # the launcher starts a fresh server for the next job


# ---- launcher side -----------------------------------------------------------------------

class ForkserverSandbox:
    """One warm server per sandbox object; jobs run one at a time through it."""

    name = "forkserver"

    def __init__(self, preload_torch: bool = False) -> None:
        caps = fences.probe()
        self.isolate = caps["namespaces"]
        self.root = caps["root"]
        self.preload = [*PRELOAD, *component_modules(), *(["torch"] if preload_torch else [])]
        self._proc: subprocess.Popen | None = None
        self._home = ""
        self._lock = threading.Lock()
        atexit.register(self.close)

    def run(self, job: Job, *, validate: bool = True) -> Result:
        return run_job(job, self, validate=validate)

    def _start(self) -> subprocess.Popen:
        self._home = tempfile.mkdtemp(prefix="memarch-forkserver-")
        # The server imports the same packages as this launcher, whatever an editable install points at.
        argv = view.python_argv("sandboxes.backends.forkserver", view.host_code_root(), *self.preload)
        proc = subprocess.Popen([sys.executable, *argv],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                cwd=self._home, env=fences.clean_env(self._home), start_new_session=True,
                                preexec_fn=lambda: fences.prctl(fences.PR_SET_PDEATHSIG, signal.SIGKILL))
        if self._readline(proc, READY_TIMEOUT) != b"ready\n":
            self._stop(proc)
            raise RuntimeError("the fork server did not start (try the process backend)")
        return proc

    @staticmethod
    def _readline(proc: subprocess.Popen, timeout: float) -> bytes:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        return proc.stdout.readline() if ready else b""

    def _stop(self, proc: subprocess.Popen) -> None:
        kill_group(proc.pid)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe:
                pipe.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._stop(self._proc)
                self._proc = None

    def launch(self, job: Job, workdir: str) -> Launch:
        limits = job.limits
        uid = fences.job_uid() if self.root else None
        fs = view.allowed(job)
        req = {"workdir": workdir, "limits": dataclasses.asdict(limits), "isolate": self.isolate,
               "uid": uid, "nproc": fences.nproc_limit(limits, uid), "binds": fs.binds, "links": fs.links,
               "devices": fs.devices, "packages": view.host_packages(), "env": job_env(job, workdir),
               "preload": deferred_for(job.program)}
        with self._lock:
            if self._proc is not None and self._proc.poll() is not None:
                self._stop(self._proc)  # died between jobs (killed, OOM): clean up, start afresh
                self._proc = None
            if self._proc is None:
                self._proc = self._start()
            proc = self._proc
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(req).encode() + b"\n")
                proc.stdin.flush()
                line = self._readline(proc, limits.wall_seconds + GRACE)
            except OSError:
                line = b""
            if not line:
                self._stop(proc)
                self._proc = None
                return Launch("crashed", "the fork server stopped answering; it was restarted")
        reply = json.loads(line)
        if "error" in reply:
            return Launch("crashed", f"fork server: {reply['error']}")
        wall, cpu, rss = reply["wall"], reply["cpu"], reply["rss_mb"]
        status = reply["status"]
        if reply["outcome"] == "oom":
            return Launch("oom", oom_message(limits), wall, cpu, rss)
        if reply["outcome"] == "timeout":
            return Launch("timeout", f"no result after {limits.wall_seconds:g} s wall clock; job killed",
                          wall, cpu, rss)
        if status == 0 and os.path.exists(os.path.join(workdir, "transcript.json")):
            return Launch("ok", "", wall, cpu, rss)
        tail = tail_of(os.path.join(workdir, "output.log"), limits.max_output_bytes // 16)
        launch = decode_status(status, limits, self.isolate, tail)
        launch.wall_s, launch.cpu_s, launch.max_rss_mb = wall, cpu, rss
        return launch


if __name__ == "__main__":
    serve(sys.argv[1:])
