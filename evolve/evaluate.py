"""Evaluations as Ray tasks: a job goes to a node that can run it and comes back as a Result."""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from evolve.cache_shipping import localise, pack
from evolve.config import ConfigError
from sandboxes.backends import get_sandbox
from sandboxes.backends.gpu import ray_assignment
from sandboxes.job import Job, Result
from sandboxes.placement import ray_options, unplaceable

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def evaluate_json(job_json: str, backend: str, options: dict[str, Any] | None = None,
                  shipped: list[Any] | None = None) -> str:
    """Runs on a Ray worker: the sandbox contains the program; this never raises for its faults.

    `shipped` is ``[ObjectRef of the packed embedding cache, digest]`` (evolve/cache_shipping.py).
    A GPU job is given the GPUs Ray assigned to this task (never ids the job itself carries)."""
    job = localise(Job.from_json(job_json), shipped)
    job = dataclasses.replace(job, gpu_ids=ray_assignment() if job.limits.gpu else [])
    return get_sandbox(backend, **(options or {})).run(job, validate=not job.validated).to_json()


def init_ray(address: str | None, num_cpus: int | None, backend: str = "process") -> None:
    """Join a cluster (`address`), or start a local Ray of our own that can run `backend` jobs."""
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "logging_level": logging.ERROR, "configure_logging": True}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local": always a fresh instance of our own, never a cluster someone else started here
        cpus = num_cpus or os.cpu_count() or 1
        # a local node runs docker jobs only if it says so (a cluster's nodes advertise it themselves)
        resources = {"docker": float(cpus)} if backend == "docker" else None
        ray.init(address="local", num_cpus=cpus, resources=resources, object_store_memory=128 * 2**20, **kwargs)


class RayEvaluator:
    """Submits jobs as Ray tasks and hands back finished (tag, Result) pairs."""

    def __init__(self, backend: str, options: dict[str, Any] | None = None) -> None:
        import ray

        self._ray = ray
        self.backend = backend
        self.options = dict(options or {})
        self._remote = ray.remote(evaluate_json)
        self._inflight: dict[Any, Any] = {}
        self._shipped: list[Any] | None = None
        self._placeable: set[tuple] = set()

    def ship_cache(self, root: str, embedder: str) -> None:
        """Put the embedding cache in the object store once, for nodes that cannot read `root`."""
        packed = pack(root, embedder) if root else None
        self._shipped = [self._ray.put(packed), packed.digest] if packed else None

    def submit(self, tag: Any, job: Job) -> None:
        opts = ray_options(self.backend, job, self.options)
        self._check_placeable(opts)
        ref = self._remote.options(**opts).remote(job.to_json(), self.backend, self.options, self._shipped)
        self._inflight[ref] = tag

    def _check_placeable(self, opts: dict[str, Any]) -> None:
        """A request no node can meet would wait forever: fail at the first job of its shape."""
        shape = (opts["num_cpus"], opts["num_gpus"], tuple(sorted(opts.get("resources", {}).items())))
        if shape in self._placeable:
            return
        problem = unplaceable(opts, self._ray.nodes())
        if problem:
            raise ConfigError(f"sandbox: {problem}; check sandbox.limits.gpu, sandbox.options.cpus and the "
                              "resources the cluster's nodes advertise")
        self._placeable.add(shape)

    def __len__(self) -> int:
        return len(self._inflight)

    def tags(self) -> list[Any]:
        return list(self._inflight.values())

    def wait(self, timeout: float | None = None) -> list[tuple[Any, Result]]:
        if not self._inflight:
            return []
        ready, _ = self._ray.wait(list(self._inflight), num_returns=1, timeout=timeout)
        done = []
        for ref in ready:
            tag = self._inflight.pop(ref)
            try:
                result = Result.from_json(self._ray.get(ref))
            except Exception as exc:  # noqa: BLE001 - a lost node or a worker crash is an evaluation outcome
                result = Result(status="crashed", error=f"evaluation infrastructure failed: {exc.__class__.__name__}: "
                                                        f"{str(exc).splitlines()[0] if str(exc) else ''}")
            done.append((tag, result))
        return done

    def cancel_all(self) -> None:
        for ref in list(self._inflight):
            self._ray.cancel(ref, force=True)
        self._inflight.clear()
