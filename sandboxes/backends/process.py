"""The embedded default sandbox: the harness in a child process, fenced in by the OS.

Fences: a new session (its process group is killed whole on timeout), rlimits on address
space, CPU seconds, open files, file size and (for non-root) processes, a private network
namespace where the OS allows it (as root: unshare(CLONE_NEWNET), so no socket reaches
anything, loopback included), an allow-listed environment with no secrets, and a fresh
temp dir as cwd.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import time

from sandboxes.backends.base import Launch, run_job
from sandboxes.job import Job, Limits, Result

CLONE_NEWNET = 0x40000000
ENV_ALLOW = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_env(workdir: str) -> dict[str, str]:
    """Only locale and library tuning survive; HOME points at the job's own dir."""
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    env.update({"HOME": workdir, "TMPDIR": workdir, "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def _unshare_net() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except OSError:
        return False


def _fence(limits: Limits) -> None:
    """Runs in the child between fork and exec: only async-signal-safe-ish, no locks held."""
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_open_files, limits.max_open_files))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_mb * mb, limits.max_file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes))
    else:
        _unshare_net()


def _tail(path: str, n: int) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - n))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


class ProcessSandbox:
    name = "process"

    def run(self, job: Job) -> Result:
        return run_job(job, self)

    def launch(self, job: Job, workdir: str) -> Launch:
        limits = job.limits
        cmd = [sys.executable, "-I", "-m", "sandboxes.harness", "job.json", "stream.jsonl", "transcript.json"]
        out = open(os.path.join(workdir, "output.log"), "wb")
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, cwd=workdir, env=clean_env(workdir), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=lambda: _fence(limits), close_fds=True)
        finally:
            out.close()
        status, rusage = self._wait(proc, limits.wall_seconds)
        wall = time.perf_counter() - t0
        cpu = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
        rss = (rusage.ru_maxrss / 1024) if rusage else 0.0
        tail = _tail(os.path.join(workdir, "output.log"), limits.max_output_bytes // 16)
        if status is None:
            return Launch("timeout", f"no result after {limits.wall_seconds:g} s wall clock; process group killed",
                          wall, cpu, rss)
        if status == 0 and os.path.exists(os.path.join(workdir, "transcript.json")):
            return Launch("ok", "", wall, cpu, rss)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return Launch("timeout", f"CPU limit of {limits.cpu_seconds} s exceeded", wall, cpu, rss)
            return Launch("crashed", f"killed by signal {signal.Signals(sig).name}. {tail[-500:]}".strip(),
                          wall, cpu, rss)
        code = os.WEXITSTATUS(status)
        return Launch("crashed", f"harness exited with code {code} and no transcript. {tail[-500:]}".strip(),
                      wall, cpu, rss)

    @staticmethod
    def _wait(proc: subprocess.Popen, timeout: float):
        """Wait for the child; on timeout kill its whole process group. Returns (status|None, rusage)."""
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = status
                ProcessSandbox._kill_group(proc.pid)  # reap what the program left behind
                return status, rusage
            if time.monotonic() >= deadline:
                ProcessSandbox._kill_group(proc.pid)
                _pid, _status, rusage = os.wait4(proc.pid, 0)
                proc.returncode = -9
                return None, rusage
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    @staticmethod
    def _kill_group(pgid: int) -> None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
