"""The docker backend: the harness in a throwaway container, through the docker SDK.

Each job gets a container with no network, a read-only root, a small tmpfs /tmp owned by
the sandbox user (65534), memory / CPU / pids limits, rlimits on files, file size and CPU
seconds, every capability dropped and ``no-new-privileges``; for a GPU job, a device request
naming the GPU Ray assigned to it (`gpu`), so the container holds that device only. ``cpus``
is the container's CPU quota and also what its Ray task requests (`placement.ray_options`). The job's workdir is the only writable bind (``/job``). The
container is always removed; each carries labels naming the campaign and its owning
process, so containers left by a killed campaign are removed at the next start.

Images: the offline image (``memarch sandbox build``; a skeleton rootfs made with
``docker import``) has no interpreter of its own, so the allow-list of `view` is bound
read-only: shared libraries, ``sh``, the interpreter with its standard library and
site-packages, the ``design_space`` and ``sandboxes`` packages at ``/opt/memarch`` and the
caches. Images built from ``sandboxes/images/Dockerfile`` carry their own Python and need
no binds.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import sys
import time
from typing import Any

from sandboxes.backends import fences, gpu, view
from sandboxes.backends.base import Launch, run_job
from sandboxes.backends.process import decode_status, tail_of
from sandboxes.job import Job, Result
from sandboxes.placement import DOCKER_CPUS

OFFLINE_IMAGE = "memarch-sandbox:offline"
SANDBOX_USER = "65534:65534"
LABEL = "memarch.sandbox"
CAMPAIGN = "memarch.campaign"
OWNER = "memarch.owner"
OFFLINE_LABEL = "memarch.offline"
JOB_DIR = "/job"
HARNESS = "python -I -m sandboxes.harness job.json stream.jsonl transcript.json > output.log 2>&1"


class DockerUnavailable(RuntimeError):
    """No engine, or no image: the message says which and what to run."""


def client_from_env():
    """A docker client that answers, or DockerUnavailable naming DOCKER_HOST."""
    try:
        import docker
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the user
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise DockerUnavailable(f"no Docker engine answers at {where} (start dockerd or set DOCKER_HOST): "
                                f"{exc.__class__.__name__}") from None


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_tag(pid: int | None = None) -> str:
    """host:pid:start-time of the process that owns a container (start time guards against pid reuse)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def owner_alive(tag: str) -> bool | None:
    """Whether the owner still runs; None when it ran on another host (or pid namespace) we cannot see."""
    host, _, rest = tag.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname():
        return None
    return pid.isdigit() and bool(started) and _start_time(int(pid)) == started


def cleanup_stale(client, campaign: str | None = None) -> int:
    """Remove sandbox containers whose owner on this host is gone, or all of `campaign`'s. Returns the count.

    Other workers start and remove their containers meanwhile: one listed and gone before it is
    inspected or removed is skipped (the engine lists ids first and inspects each after)."""
    from docker.errors import NotFound

    removed = 0
    for container in client.containers.list(all=True, filters={"label": LABEL}, ignore_removed=True):
        labels = container.labels or {}
        if (campaign is not None and labels.get(CAMPAIGN) == campaign) or owner_alive(labels.get(OWNER, "")) is False:
            try:
                container.remove(force=True)
            except NotFound:
                continue  # its owner removed it first
            removed += 1
    return removed


def host_binds(job: Job | None) -> list[str]:
    """What the offline image needs from the host: the allow-list of `view`, read-only.

    A list, not a dict keyed by host path: one host file may be bound at two paths.
    """
    return [f"{src}:{dst}:ro" for src, dst in view.allowed(job, ("sh",)).binds]


class DockerSandbox:
    name = "docker"

    def __init__(self, image: str = OFFLINE_IMAGE, campaign: str = "default", cpus: float = DOCKER_CPUS,
                 client=None) -> None:
        self.client = client or client_from_env()
        try:
            labels = self.client.images.get(image).labels or {}
        except Exception:  # noqa: BLE001 - docker.errors.ImageNotFound and friends
            raise DockerUnavailable(f"docker image {image!r} not found: run `memarch sandbox build`") from None
        self.image = image
        self.offline = labels.get(OFFLINE_LABEL) == "1"
        self.campaign = campaign
        self.cpus = cpus
        self.stale_removed = cleanup_stale(self.client)

    def run(self, job: Job, *, validate: bool = True) -> Result:
        return run_job(job, self, validate=validate)

    def container_spec(self, job: Job, workdir: str) -> dict[str, Any]:
        """Keyword arguments for ``containers.run``: every fence in one place."""
        from docker.types import DeviceRequest, Ulimit

        limits = job.limits
        mb = 1024 * 1024
        volumes = [f"{workdir}:{JOB_DIR}:rw"]
        command = HARNESS
        shell = "/bin/sh"
        env = fences.clean_env(JOB_DIR)
        env["PATH"] = "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"  # where the Dockerfiles put python
        if self.offline:
            volumes += host_binds(job)
            shell = shutil.which("sh") or shell  # bound at that path by host_binds
            command = " ".join(shlex.quote(a) for a in [sys.executable, *view.harness_argv(view.CODE_ROOT)])
            command += " > output.log 2>&1"
            env["PATH"] = f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin"
        else:  # data the job reads (model cache, embedding cache) is bound in every image
            data = [fences.model_cache(), getattr(job, "embed_cache", "") or ""]
            volumes += [f"{p}:{p}:ro" for p in data if p and os.path.isdir(p)]
        spec: dict[str, Any] = {
            "image": self.image,
            "command": [shell, "-c", "exec " + command],
            "user": SANDBOX_USER,
            "working_dir": JOB_DIR,
            "environment": env,
            "volumes": volumes,
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": "rw,nosuid,nodev,size=64m,uid=65534,gid=65534"},
            "mem_limit": f"{limits.memory_mb}m",
            "memswap_limit": f"{limits.memory_mb}m",
            "nano_cpus": int(self.cpus * 1e9),
            "pids_limit": limits.max_processes,
            "ulimits": [Ulimit(name="nofile", soft=limits.max_open_files, hard=limits.max_open_files),
                        Ulimit(name="fsize", soft=limits.max_file_mb * mb, hard=limits.max_file_mb * mb),
                        Ulimit(name="cpu", soft=limits.cpu_seconds, hard=limits.cpu_seconds + 5),
                        Ulimit(name="core", soft=0, hard=0)],
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ipc_mode": "private",
            "log_config": {"type": "none", "config": {}},
            "labels": {LABEL: "1", CAMPAIGN: self.campaign, OWNER: owner_tag(), "memarch.job": job.job_id},
            "detach": True,
        }
        if limits.gpu:
            # The device Ray assigned (gpu.assigned); unassigned (no Ray, no CUDA_VISIBLE_DEVICES): any one GPU.
            ids = gpu.assigned(job)
            request = DeviceRequest(device_ids=ids, capabilities=[["gpu"]]) if ids else \
                DeviceRequest(count=1, capabilities=[["gpu"]])
            spec["device_requests"] = [request]
        return spec

    def launch(self, job: Job, workdir: str) -> Launch:
        limits = job.limits
        t0 = time.perf_counter()
        try:
            container = self.client.containers.run(**self.container_spec(job, workdir))
        except Exception as exc:  # noqa: BLE001 - the engine refused (bad image, no GPU runtime, ...)
            return Launch("crashed", f"docker could not start the sandbox: {str(exc)[:500]}",
                          time.perf_counter() - t0)
        timed_out = False
        try:
            try:
                status = int(container.wait(timeout=limits.wall_seconds)["StatusCode"])
            except Exception:  # noqa: BLE001 - requests' ReadTimeout arrives wrapped in several ways
                timed_out = True
                container.kill()
                status = -1
            container.reload()
            oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        finally:
            container.remove(force=True)
        wall = time.perf_counter() - t0
        if timed_out:
            return Launch("timeout", f"no result after {limits.wall_seconds:g} s wall clock; container killed", wall)
        if oom:
            return Launch("oom", f"the container exceeded its {limits.memory_mb} MB memory limit", wall)
        if status == 0 and os.path.exists(os.path.join(workdir, "transcript.json")):
            return Launch("ok", "", wall)
        tail = tail_of(os.path.join(workdir, "output.log"), limits.max_output_bytes // 16)
        # The shell execs python, so a death by signal shows as 128+N, as from any wrapper.
        launch = decode_status(status << 8 if 0 <= status < 256 else signal.SIGKILL, limits, True, tail)
        launch.wall_s = wall
        return launch
