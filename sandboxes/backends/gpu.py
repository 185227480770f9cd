"""GPU jobs: which devices a job may use, and what its sandbox needs to reach them.

A job with ``limits.gpu`` is placed by Ray on a node with a free GPU; the evaluating worker
reads the ids Ray assigned to its task and writes them into ``Job.gpu_ids`` on the trusted
side (the program's source never chooses them). Backends then hand the job that device:

- process / fork server: ``CUDA_VISIBLE_DEVICES`` is set to the assignment (with
  ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, so an id means the same device as in ``nvidia-smi`` and
  in docker), and the NVIDIA device nodes are added to the job's filesystem view. This is
  a cooperative boundary: all of a node's GPUs are reachable through those nodes, the
  environment only says which one is the job's. A CPU job gets ``CUDA_VISIBLE_DEVICES=""``
  and, in the isolated view, no GPU device node at all.
- docker: a device request that names the assigned ids; the container holds those devices only.

CUDA reserves large virtual address ranges, so GPU jobs get no ``RLIMIT_AS``; their memory
is watched by resident size instead (`process.wait_job`).
"""
from __future__ import annotations

import glob
import os

from sandboxes.job import Job

# nvidiactl, nvidia-uvm(-tools), nvidia-modeset and one nvidiaN per GPU; nvidia-caps holds MIG nodes
DEVICE_GLOBS = ("/dev/nvidia*", "/dev/nvidia-caps/*")


def assigned(job: Job) -> list[str] | None:
    """The GPU ids `job` may use: Ray's assignment; else, outside Ray, the launcher's own
    ``CUDA_VISIBLE_DEVICES``; None = not restricted (every GPU of the node)."""
    if job.gpu_ids:
        return [str(i) for i in job.gpu_ids]
    own = os.environ.get("CUDA_VISIBLE_DEVICES")
    return [i for i in own.split(",") if i] if own is not None else None


def env(job: Job) -> dict[str, str]:
    """Environment entries a process-backend job gets for its GPU (or for having none)."""
    if not job.limits.gpu:
        return {"CUDA_VISIBLE_DEVICES": ""}
    ids = assigned(job)
    extra = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    if ids is not None:
        extra["CUDA_VISIBLE_DEVICES"] = ",".join(ids)
    return extra


def device_nodes() -> list[str]:
    """The NVIDIA device nodes of this machine (empty where there is no NVIDIA driver)."""
    found = set()
    for pattern in DEVICE_GLOBS:
        found.update(p for p in glob.glob(pattern) if not os.path.isdir(p))
    return sorted(found)


def ray_assignment() -> list[str]:
    """On a Ray worker: the GPU ids Ray assigned to the running task (fake GPUs included)."""
    import ray

    if not ray.is_initialized():
        return []
    return [str(i) for i in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])]
