"""Where an evaluation may run: the Ray resource request for a job on a backend."""
from __future__ import annotations

from typing import Any

from sandboxes.job import Job


def ray_options(backend: str, job: Job) -> dict[str, Any]:
    opts: dict[str, Any] = {"num_cpus": 1, "max_retries": 3, "retry_exceptions": False}
    if getattr(job.limits, "gpu", False):
        opts["num_gpus"] = 1
    if backend == "docker":
        opts["resources"] = {"docker": 1}
    return opts
