"""`memarch sandbox check`: does containment hold on this node, and how fast is it?

For one backend: a good program must score; then five small attacks must fail — a TCP
connection to a listener this check runs on 127.0.0.1, a planted secret in the caller's
environment, a file written into the caller's home directory, a detached grandchild
that tries to outlive the job, and a walk of the whole visible filesystem (``/proc``,
``/sys``, ``/dev`` aside, stopping at the first find) for files planted in the caller's home and
temp dir, the data directory, the checkout's ``runs/`` and the benchmark data files and run
databases by name.
Each probe reports ``held`` or ``BROKEN`` with the evidence.

`gpu_readiness` answers whether GPU jobs (``limits.gpu``) would work on this node: NVIDIA
device nodes and driver, GPUs Ray would advertise, torch with CUDA in the interpreter the
sandboxes run, and a GPU runtime in the Docker engine; where all of that is present,
`check_gpu_job` runs a torch CUDA matmul as a GPU job in a backend.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sandboxes.backends import gpu
from sandboxes.job import Job, Limits

PROBE = '''
import ctypes, os, socket, time
from design_space import MemoryProgram, Recall
ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)
PLANTED = {planted!r}
HUNTED = set({hunted!r})
class Memory(MemoryProgram):
    def encode(self, event):
        out = []
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1).close(); out.append("net:CONNECTED")
        except OSError as exc:
            out.append("net:" + exc.__class__.__name__)
        out.append("env:" + ("LEAKED" if "{secret}" in repr(dict(os.environ)) else "clean"))
        try:
            open({escape!r}, "w").write("x"); out.append("write:WRITTEN")
        except OSError as exc:
            out.append("write:" + exc.__class__.__name__)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        os.wait()
        seen = [p for p in PLANTED if os.path.lexists(p)]
        for root, dirs, names in os.walk("/"):
            if seen:  # one find is the evidence: a broken view can span a whole host's disks
                break
            dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
            seen += [os.path.join(root, n) for n in dirs + names if n in HUNTED]
        out.append("fs:" + ("SEEN:" + ",".join(seen[:4]) if seen else "clean"))
        raise RuntimeError("probe " + " ".join(out))
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
SEED = Path(__file__).resolve().parents[2] / "design_space" / "seeds" / "recency_window.py"
RUNS = Path(__file__).resolve().parents[2] / "runs"
# Benchmark data and run databases, looked for by name across the whole visible filesystem.
DATA_NAMES = ("locomo10.json", "longmemeval_oracle_reassembled.json.gz", "banking77", "tasks_1-20_v1-2",
              "campaign.db")


@dataclass
class Check:
    name: str
    held: bool
    detail: str


def _survivors(token: str) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        try:
            n += entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == token
        except OSError:
            continue
    return n


def check_backend(sandbox) -> tuple[list[Check], float]:
    """Run the good program and the probes on `sandbox`; returns the checks and no-op ms."""
    t0 = time.perf_counter()
    good = sandbox.run(Job(program=SEED.read_text(), task="synthetic", fidelity="smoke",
                           limits=Limits(wall_seconds=60)))
    ms = (time.perf_counter() - t0) * 1000
    checks = [Check("good program scores", good.status == "ok", good.status + (f": {good.error[:200]}"
                                                                               if good.error else ""))]
    from sandboxes.tasks.params import data_root

    token, secret = "mxchk" + secrets.token_hex(4), "sk-check-" + secrets.token_hex(8)
    escape = Path.home() / f".memarch-check-{token}"
    canaries = [Path.home() / f".memarch-gold-{token}", Path(tempfile.gettempdir()) / f"memarch-gold-{token}"]
    for path in canaries:
        path.write_text("gold")
        path.chmod(0o644)
    planted = [str(p) for p in (*canaries, data_root(), RUNS) if os.path.lexists(p)]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    os.environ["MEMARCH_CHECK_SECRET"] = secret
    try:
        program = PROBE.format(token=token, port=listener.getsockname()[1], secret=secret, escape=str(escape),
                               planted=planted, hunted=[*DATA_NAMES, *(p.name for p in canaries)])
        result = sandbox.run(Job(program=program, task="synthetic", fidelity="smoke",
                                 limits=Limits(wall_seconds=30)), validate=False)
        time.sleep(0.2)
        try:
            listener.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
        report = result.error.rsplit("RuntimeError: probe ", 1)[-1].strip()[:400]
        checks += [
            Check("no network (loopback listener)", not connected and "CONNECTED" not in report, report),
            Check("no secrets in the environment", "LEAKED" not in report and secret not in result.to_json(),
                  report),
            Check("no writes outside the job dir", not escape.exists(), str(escape)),
            Check("nothing outlives the job", _survivors(token) == 0, f"{_survivors(token)} left"),
            Check("filesystem: only the allow-list is visible", "fs:clean" in report,
                  report.rsplit("fs:", 1)[-1] if "fs:" in report else report),
        ]
    finally:
        os.environ.pop("MEMARCH_CHECK_SECRET", None)
        listener.close()
        escape.unlink(missing_ok=True)
        for path in canaries:
            path.unlink(missing_ok=True)
    return checks, ms


CUDA_PROBE = '''
import torch
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        ones = torch.ones(32, 32, device="cuda")
        raise RuntimeError("gpu-probe %s %g" % (torch.cuda.get_device_name(0), (ones @ ones).sum().item()))
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''
TORCH_CUDA = "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.device_count())"


def _torch_cuda() -> Check:
    """torch with CUDA in the interpreter sandboxes run (a subprocess: importing torch here costs ~1 s)."""
    try:
        out = subprocess.run([sys.executable, "-c", TORCH_CUDA], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return Check("torch sees a CUDA GPU", False, "importing torch took over 120 s")
    if out.returncode != 0:
        return Check("torch sees a CUDA GPU", False, (out.stderr.strip().splitlines() or ["torch failed"])[-1])
    version, available, count = out.stdout.split()
    detail = f"torch {version}: {count} CUDA device(s)" if available == "True" else \
        f"torch {version}: torch.cuda.is_available() is false" + (" (a CPU build)" if "+cpu" in version else "")
    return Check("torch sees a CUDA GPU", available == "True", detail)


def _ray_gpus() -> Check:
    try:  # the count `ray start` advertises; Ray's own detector (a private module, hence the guard)
        from ray._private.accelerators import NvidiaGPUAcceleratorManager

        n = NvidiaGPUAcceleratorManager.get_current_node_num_accelerators()
    except Exception as exc:  # noqa: BLE001 - Ray missing or its internals moved
        return Check("Ray would advertise GPUs", False, f"cannot ask Ray: {exc.__class__.__name__}")
    return Check("Ray would advertise GPUs", n > 0, f"{n} GPU(s) (`ray start --num-gpus N` overrides)")


def _docker_gpu() -> Check:
    from sandboxes.backends.docker import DockerUnavailable, client_from_env

    try:
        info = client_from_env().info()
    except DockerUnavailable as exc:
        return Check("docker GPU runtime", False, str(exc)[:120])
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    cdi = [d for d in info.get("CDISpecDirs") or [] if os.path.isdir(d) and os.listdir(d)]
    ok = "nvidia" in runtimes or bool(cdi)
    return Check("docker GPU runtime", ok, "nvidia runtime or CDI specs present" if ok else
                 f"runtimes: {', '.join(runtimes) or 'none'}; install nvidia-container-toolkit")


def gpu_readiness() -> tuple[list[Check], bool]:
    """What GPU jobs need on this node, and whether the process backends could run one."""
    nodes = gpu.device_nodes()
    driver = Path("/proc/driver/nvidia/version")
    checks = [Check("NVIDIA device nodes", bool(nodes), ", ".join(nodes[:4]) or "no /dev/nvidia* on this node"),
              Check("NVIDIA driver", driver.exists(),
                    driver.read_text().splitlines()[0][:100] if driver.exists() else "no /proc/driver/nvidia"),
              _ray_gpus(), _torch_cuda(), _docker_gpu()]
    ready = all(c.held for c in checks[:2]) and checks[3].held
    return checks, ready


def check_gpu_job(sandbox) -> Check:
    """A torch CUDA matmul as a GPU job on `sandbox` (run only where `gpu_readiness` says ready)."""
    result = sandbox.run(Job(program=CUDA_PROBE, task="synthetic", fidelity="smoke",
                             limits=Limits(wall_seconds=120, gpu=True)), validate=False)
    ok = "gpu-probe" in result.error and result.error.rsplit("gpu-probe", 1)[1].split()[-1] == "32768"
    detail = result.error.rsplit("gpu-probe", 1)[1].strip()[:120] if ok else f"{result.status}: {result.error[-200:]}"
    return Check("GPU job: torch CUDA matmul", ok, detail)
