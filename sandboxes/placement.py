"""Where an evaluation runs on a Ray cluster: the resources its task requests.

An evaluation task asks for one CPU; a job whose limits say ``gpu`` also asks for one GPU
(so it lands only on nodes that advertise one, and Ray assigns it a device the backend then
hands to the job: sandboxes/backends/gpu.py); the docker backend also asks for one unit
of the ``docker`` custom resource, which nodes with a Docker engine advertise
(``ray start --resources '{"docker": 8}'``), and for as many CPUs as its containers may use
(the backend's ``cpus`` option), so a node never runs more container CPUs than it has. Node loss is a system failure Ray retries on
another node (``max_retries``); a program's own failure is a result, never an exception,
so it is never retried.

Use: ``ray.remote(evaluate).options(**ray_options(backend, job, options)).remote(job)``, with
`options` the backend options the sandbox is built with.
"""
from __future__ import annotations

from typing import Any

from sandboxes.job import Job

DOCKER_RESOURCE = "docker"
MAX_RETRIES = 3
DOCKER_CPUS = 1.0  # the docker backend's default `cpus` (DockerSandbox)


def ray_options(backend: str, job: Job, sandbox_options: dict[str, Any] | None = None,
                max_retries: int = MAX_RETRIES) -> dict[str, Any]:
    """Ray task options for evaluating `job` on `backend` built with `sandbox_options`."""
    cpus = 1.0
    if backend == DOCKER_RESOURCE:  # the container's CPU quota is what the task occupies
        cpus = float((sandbox_options or {}).get("cpus", DOCKER_CPUS))
    options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": 1 if job.limits.gpu else 0,
                               "max_retries": max_retries, "retry_exceptions": False}
    if backend == DOCKER_RESOURCE:
        options["resources"] = {DOCKER_RESOURCE: 1}
    return options


def node_resources(docker: bool, slots: int = 8) -> dict[str, float]:
    """Custom resources a node should advertise when it joins (``ray start --resources``)."""
    return {DOCKER_RESOURCE: float(slots)} if docker else {}


def unplaceable(options: dict[str, Any], nodes: list[dict[str, Any]]) -> str:
    """Why no live node of `nodes` (``ray.nodes()``) could ever run a task with these options;
    "" when one could. Ray would otherwise keep such a task pending forever."""
    need = {"CPU": options.get("num_cpus", 0), "GPU": options.get("num_gpus", 0), **options.get("resources", {})}
    need = {name: amount for name, amount in need.items() if amount}
    for node in nodes:
        if node.get("Alive") and all(node.get("Resources", {}).get(k, 0) >= v for k, v in need.items()):
            return ""
    wanted = ", ".join(f"{v:g} {k}" for k, v in need.items())
    have = "; ".join(", ".join(f"{v:g} {k}" for k, v in sorted(n.get("Resources", {}).items())
                               if k in need) or "none of it" for n in nodes if n.get("Alive")) or "no live node"
    return f"an evaluation asks Ray for {wanted}, but no node has that much (nodes have: {have})"
