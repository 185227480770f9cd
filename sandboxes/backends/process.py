"""The embedded default sandbox: the harness in a child process, fenced in by the OS.

Fences (see `fences`): a new session whose process group is killed whole on timeout;
rlimits on address space, CPU seconds, open files, file size and processes; an allow-listed
environment with no secrets; a fresh temp dir as cwd. As root, where the kernel allows it,
also: a private network namespace (no socket reaches anything, loopback included), a
view of the filesystem that holds only an allow-list (`view`), read-only, a PID
namespace whose death takes every process the program started with it (detached
grandchildren included), and a job-specific unprivileged uid.

With ``bwrap=True`` the namespaces and the same allow-list view come from bubblewrap instead,
which also works for non-root users on kernels that allow unprivileged user namespaces.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time

from sandboxes.backends import fences, gpu, view
from sandboxes.backends.base import Launch, run_job
from sandboxes.job import Job, Limits, Result

clean_env = fences.clean_env  # kept importable from here: other modules use it


def job_env(job: Job, workdir: str) -> dict[str, str]:
    """The clean environment plus the job's GPU assignment (or none: CPU jobs see no GPU)."""
    return {**clean_env(workdir), **gpu.env(job)}


def tail_of(path: str, n: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - n))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def bwrap_command(workdir: str, uid: int | None, fs: view.View) -> list[str]:
    """bubblewrap: an empty root holding the allow-list read-only, private net/pid/ipc, workdir writable."""
    cmd = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    # bwrap creates missing parents 0700, which a dropped uid cannot traverse: make each one 0755.
    parents = set()
    for path in [*fs.inside(), workdir]:
        parent = os.path.dirname(path)
        while parent != "/":
            parents.add(parent)
            parent = os.path.dirname(parent)
    for d in sorted(parents, key=lambda p: (p.count("/"), p)):
        cmd += ["--perms", "0755", "--dir", d]
    for src, dst in fs.binds:
        cmd += ["--ro-bind", src, dst]
    for path, target in fs.links:
        cmd += ["--symlink", target, path]
    cmd += ["--bind", workdir, workdir, "--dev", "/dev"]
    for node in fs.devices:  # a GPU job's device nodes (--dev-bind: plain binds are nodev)
        if os.path.dirname(node) != "/dev":
            cmd += ["--perms", "0755", "--dir", os.path.dirname(node)]
        cmd += ["--dev-bind", node, node]
    cmd += ["--proc", "/proc", "--remount-ro", "/", "--chdir", workdir]
    if uid is None:  # unprivileged: bubblewrap maps us into a user namespace of our own
        return cmd + ["--unshare-user", "--"]
    # As root a user namespace would map the sandbox to uid 0 outside; drop to a real uid instead.
    return cmd + ["--cap-add", "CAP_SETUID,CAP_SETGID", "--", shutil.which("setpriv") or "setpriv",
                  f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]


def oom_message(limits: Limits) -> str:
    return (f"resident memory passed the {limits.memory_mb} MB limit (GPU job: resident size is watched, "
            "no address-space limit); killed")


def decode_status(status: int, limits: Limits, wrapped: bool, tail: str) -> Launch:
    """Turn a wait status into a Launch; wrappers report a child's death by signal as 128+N."""
    sig = 0
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
    elif wrapped and os.WEXITSTATUS(status) > 128:
        sig = os.WEXITSTATUS(status) - 128
    if sig == signal.SIGXCPU:
        return Launch("timeout", f"CPU limit of {limits.cpu_seconds} s exceeded")
    if sig:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return Launch("crashed", f"killed by signal {name}. {tail[-500:]}".strip())
    code = os.WEXITSTATUS(status)
    return Launch("crashed", f"harness exited with code {code} and no transcript. {tail[-500:]}".strip())


class ProcessSandbox:
    """`bwrap`: None = use bubblewrap only where the built-in namespaces are unavailable."""

    name = "process"

    def __init__(self, bwrap: bool | None = None) -> None:
        caps = fences.probe()
        if bwrap and not caps["bwrap"]:
            raise RuntimeError("sandbox.bwrap is set but bwrap is not installed (apt-get install bubblewrap)")
        self.isolate = caps["namespaces"] and caps["unshare_binary"] and not bwrap
        self.bwrap = bool(bwrap) or (bwrap is None and not self.isolate and caps["bwrap"])
        if self.bwrap and caps["root"] and not caps["setpriv"]:
            raise RuntimeError("sandbox.bwrap as root needs setpriv (util-linux) to drop to a sandbox uid")
        self.root = caps["root"]

    def run(self, job: Job, *, validate: bool = True) -> Result:
        return run_job(job, self, validate=validate)

    def view(self, job: Job | None, uid: int | None) -> view.View:
        """What this job sees: the allow-list plus the one tool its launcher execs inside it."""
        tools = ("setpriv",) if self.bwrap and uid is not None else ("unshare",) if self.isolate else ()
        return view.allowed(job, tools)

    def command(self, workdir: str, uid: int | None, fs: view.View) -> list[str]:
        if self.bwrap:
            return bwrap_command(workdir, uid, fs) + [sys.executable, *view.harness_argv(view.CODE_ROOT)]
        if self.isolate:
            # unshare --fork makes the harness PID 1 of a new namespace: when it exits, the
            # kernel kills everything it left behind, setsid()-detached grandchildren included.
            return [shutil.which("unshare") or "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
                    f"--setuid={uid}", f"--setgid={uid}", sys.executable, *view.harness_argv(view.CODE_ROOT)]
        return [sys.executable, *view.harness_argv(view.host_code_root())]

    def launch(self, job: Job, workdir: str) -> Launch:
        limits = job.limits
        uid = fences.job_uid() if self.root else None
        isolate = self.isolate
        fs = self.view(job, uid)
        nproc = fences.nproc_limit(limits, uid)

        def fence() -> None:  # runs in the child between fork and exec
            fences.enter(workdir, limits, isolate, fs.binds, fs.links, nproc=nproc, devices=fs.devices)

        out = open(os.path.join(workdir, "output.log"), "wb")
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(self.command(workdir, uid, fs), cwd=workdir, env=job_env(job, workdir),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True,
                                    preexec_fn=fence)
        finally:
            out.close()
        outcome, status, rusage = self._wait(proc, limits, uid)
        wall = time.perf_counter() - t0
        cpu = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
        rss = (rusage.ru_maxrss / 1024) if rusage else 0.0
        if outcome == "oom":
            return Launch("oom", oom_message(limits), wall, cpu, rss)
        if outcome == "timeout":
            return Launch("timeout", f"no result after {limits.wall_seconds:g} s wall clock; process group killed",
                          wall, cpu, rss)
        if status == 0 and os.path.exists(os.path.join(workdir, "transcript.json")):
            return Launch("ok", "", wall, cpu, rss)
        tail = tail_of(os.path.join(workdir, "output.log"), limits.max_output_bytes // 16)
        launch = decode_status(status, limits, self.bwrap or self.isolate, tail)
        launch.wall_s, launch.cpu_s, launch.max_rss_mb = wall, cpu, rss
        return launch

    @staticmethod
    def _wait(proc: subprocess.Popen, limits: Limits, uid: int | None):
        """Wait for the child; on timeout or a watched GPU job's oom kill its whole process group.
        Returns (outcome, wait status, rusage); see `wait_job`."""
        outcome = wait_job(proc.pid, limits, uid)
        if outcome != "exited":
            kill_job(proc.pid)
        _pid, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = status if outcome == "exited" else -9
        kill_group(proc.pid)  # reap what the program left in its group
        return outcome, status, rusage


def wait_job(pid: int, limits: Limits, uid: int | None) -> str:
    """Wait for the job whose leader is `pid`: "exited" (unreaped), "timeout" or "oom".

    CPU jobs are held to ``memory_mb`` by RLIMIT_AS. GPU jobs have no address-space limit
    (CUDA reserves huge virtual ranges), so their resident size is watched instead and the
    job is ended as "oom" once it passes the limit. The watch polls: a program can overshoot
    by what it allocates in one interval before it is killed.
    """
    if not limits.gpu:
        return "exited" if wait_exit(pid, limits.wall_seconds) else "timeout"
    watch = RssWatch(pid, uid)
    deadline = time.monotonic() + limits.wall_seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        if wait_exit(pid, min(WATCH_INTERVAL, remaining)):
            return "exited"
        if watch.rss_mb() > limits.memory_mb:
            return "oom"


WATCH_INTERVAL = 0.05  # s between resident-size reads of a GPU job's processes
RESCAN_INTERVAL = 1.0  # s between scans of /proc for processes the job started since


class RssWatch:
    """The resident size of a job: its leader and every process below it, or running as its uid.

    Reading the known members is cheap; finding new ones needs a scan of all of /proc (~30 ms
    on a busy node), so that runs once a second. Pages shared between the job's processes
    (a fork server's preloaded modules) count once per process: the watch errs towards "oom".
    """

    def __init__(self, leader: int, uid: int | None) -> None:
        self.leader, self.uid = leader, uid
        self.members: set[int] = {leader}
        self.scanned = 0.0
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20

    def _scan(self) -> None:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[3]) == self.leader or (self.uid is not None and os.stat(f"/proc/{pid}").st_uid == self.uid):
                    self.members.add(pid)  # its session, or its uid (root launches: a uid of its own)
                parents[pid] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
        grown = True
        while grown:  # descendants that left the session (setsid) are still below the leader
            new = {pid for pid, ppid in parents.items() if ppid in self.members and pid not in self.members}
            self.members |= new
            grown = bool(new)
        self.scanned = time.monotonic()

    def rss_mb(self) -> float:
        if time.monotonic() - self.scanned >= RESCAN_INTERVAL:
            self._scan()
        total = 0
        for pid in list(self.members):
            try:
                with open(f"/proc/{pid}/statm", "rb") as fh:
                    total += int(fh.read().split()[1])
            except (OSError, IndexError, ValueError):
                self.members.discard(pid)  # exited
        return total * self.page_mb


def wait_exit(pid: int, timeout: float) -> bool:
    """Block until child `pid` has exited (True) or `timeout` passed (False); it stays unreaped."""
    if hasattr(os, "pidfd_open"):  # Linux: wakes the moment the child exits
        fd = os.pidfd_open(pid)
        try:
            return bool(select.select([fd], [], [], max(0.0, timeout))[0])
        finally:
            os.close(fd)
    deadline, delay = time.monotonic() + timeout, 0.001
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return False


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def kill_job(leader: int, grace: float = 0.5) -> None:
    """SIGKILL the job's process group, its leader last.

    The leader is a wrapper waiting on the harness; killed together, the harness would be
    left as a zombie for init to reap. Killed first, it is reaped by the wrapper at once.
    """
    others = [p for p in group_members(leader) if p != leader]
    for pid in others:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if others:
        try:
            wait_exit(leader, grace)
        except OSError:
            pass
    kill_group(leader)
