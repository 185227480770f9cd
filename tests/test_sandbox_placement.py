"""Placement on Ray: evaluations land on nodes that can run them, and survive losing a node.

The cluster test starts three real Ray nodes on this machine (ray.cluster_utils.Cluster):
a head, a CPU node that advertises the ``docker`` resource, and a node with one (declared)
GPU. Evaluations are real sandbox runs submitted with ``ray_options``. Starting three nodes
takes ~20 s on a busy 2-core machine, so those tests are marked slow: ``pytest -m ray_cluster``.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sandbox_fixtures import SEED, seed_job
from sandboxes.job import Job, Limits
from sandboxes.placement import DOCKER_RESOURCE, node_resources, ray_options

SLOW_SEED = SEED.replace("    def encode(self, event: Event) -> list[Turn]:\n",
                         "    def encode(self, event: Event) -> list[Turn]:\n        _pause()\n") + '''

def _pause():
    import time
    if not getattr(_pause, "done", False):
        _pause.done = True
        time.sleep(PAUSE_S)
'''


def test_cpu_job_asks_for_one_cpu_and_no_gpu():
    opts = ray_options("process", seed_job())
    assert opts["num_cpus"] == 1 and opts["num_gpus"] == 0
    assert "resources" not in opts
    assert opts["max_retries"] >= 1 and opts["retry_exceptions"] is False


def test_gpu_job_asks_for_a_gpu_and_docker_for_the_docker_resource():
    opts = ray_options("docker", seed_job(gpu=True))
    assert opts["num_gpus"] == 1
    assert opts["resources"] == {DOCKER_RESOURCE: 1}
    assert node_resources(docker=True, slots=4) == {DOCKER_RESOURCE: 4.0}
    assert node_resources(docker=False) == {}


def test_docker_jobs_ask_for_the_cpus_their_containers_get():
    import inspect

    from sandboxes.backends.docker import DockerSandbox

    for cpus in (0.5, 3.0):
        assert ray_options("docker", seed_job(), {"cpus": cpus})["num_cpus"] == cpus
    # without the option, the request is the quota a container gets by default
    default = inspect.signature(DockerSandbox).parameters["cpus"].default
    assert ray_options("docker", seed_job(), {"image": "x"})["num_cpus"] == default


def test_a_request_no_node_can_meet_is_named_before_it_waits_forever():
    from sandboxes.placement import unplaceable

    # shaped like ray.nodes(): a dead GPU node does not count
    nodes = [{"Alive": True, "Resources": {"CPU": 2.0, DOCKER_RESOURCE: 4.0}},
             {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 1.0}}]
    assert unplaceable(ray_options("docker", seed_job(), {"cpus": 2.0}), nodes) == ""
    too_big = unplaceable(ray_options("docker", seed_job(), {"cpus": 3.0}), nodes)
    assert "3 CPU" in too_big and "2 CPU" in too_big
    assert "1 GPU" in unplaceable(ray_options("process", seed_job(gpu=True)), nodes)
    nodes[1]["Alive"] = True
    assert unplaceable(ray_options("process", seed_job(gpu=True)), nodes) == ""


def test_gpu_flag_round_trips_through_job_json():
    job = seed_job(gpu=True)
    assert Job.from_json(job.to_json()).limits.gpu is True
    old = job.to_json().replace(', "gpu": true', "")  # a job written before the field existed
    assert Job.from_json(old).limits.gpu is False


def _span(seconds: float, barrier: str = "", parties: int = 2) -> tuple[float, float]:
    """A Ray task holding its resources for `seconds`; with `barrier`, it first waits (up to
    60 s) until `parties` tasks have arrived, which only tasks running at once can do."""
    start = time.time()
    if barrier:
        Path(barrier, str(os.getpid())).touch()
        while len(os.listdir(barrier)) < parties and time.time() - start < 60:
            time.sleep(0.05)
    time.sleep(seconds)
    return start, time.time()


@pytest.fixture
def docker_node():
    """A local Ray node with two CPUs that advertises the docker resource (more slots than CPUs)."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=2, resources=node_resources(docker=True, slots=4), include_dashboard=False,
             log_to_driver=False, logging_level=logging.ERROR, object_store_memory=80 * 2**20)
    yield ray
    ray.shutdown()


def test_docker_jobs_never_oversubscribe_a_nodes_cpus(docker_node):
    remote = docker_node.remote(_span)
    # Two one-CPU containers fit the two-CPU node at once (they meet at the barrier) ...
    barrier = tempfile.mkdtemp(prefix="memarch-barrier-")
    small = ray_options("docker", seed_job(), {"cpus": 1.0})
    docker_node.get([remote.options(**small).remote(0.1, barrier) for _ in range(2)], timeout=180)
    assert len(os.listdir(barrier)) == 2
    # ... two two-CPU containers do not: the second starts only when the first has finished.
    big = ray_options("docker", seed_job(), {"cpus": 2.0})
    (s1, e1), (s2, e2) = docker_node.get([remote.options(**big).remote(1.5) for _ in range(2)], timeout=180)
    assert s2 >= e1 or s1 >= e2, "two 2-CPU docker jobs ran at once on a 2-CPU node"


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    # Ray workers cannot import this test module: ship its functions by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    small = {"object_store_memory": 80 * 2**20}
    # Notice a lost node within ~2 s instead of Ray's default of ~30 s.
    fast = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_timeout_ms": 500,
            "health_check_failure_threshold": 3}
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "_system_config": fast, **small})
    cpu = c.add_node(num_cpus=1, resources=node_resources(docker=True, slots=2), **small)
    gpu = c.add_node(num_cpus=1, num_gpus=1, **small)
    ray.init(address=c.address, log_to_driver=False, logging_level=logging.ERROR)
    c.wait_for_nodes()
    try:
        yield {"cluster": c, "head": c.head_node.node_id, "cpu": cpu, "gpu": gpu.node_id}
    finally:
        ray.shutdown()
        c.shutdown()


def _evaluate(job_json: str, marker: str = "") -> tuple[str, str]:
    """A Ray task: one real sandboxed evaluation; returns (node id, result JSON)."""
    import ray

    from sandboxes.backends import get_sandbox
    if marker:
        with open(marker, "a") as fh:
            fh.write(ray.get_runtime_context().get_node_id() + "\n")
    result = get_sandbox("process").run(Job.from_json(job_json))
    return ray.get_runtime_context().get_node_id(), result.to_json()


@pytest.mark.slow
@pytest.mark.ray_cluster
def test_gpu_jobs_land_only_on_the_gpu_node_and_docker_jobs_on_docker_nodes(cluster):
    import ray
    from sandboxes.job import Result

    remote = ray.remote(_evaluate)
    gpu_refs = [remote.options(**ray_options("process", seed_job(gpu=True))).remote(seed_job(gpu=True).to_json())
                for _ in range(3)]
    docker_refs = [remote.options(**ray_options("docker", seed_job())).remote(seed_job().to_json())
                   for _ in range(2)]
    for node, result_json in ray.get(gpu_refs, timeout=180):
        assert node == cluster["gpu"]
        assert Result.from_json(result_json).status == "ok"
    for node, _ in ray.get(docker_refs, timeout=180):
        assert node == cluster["cpu"].node_id


@pytest.mark.slow
@pytest.mark.ray_cluster
def test_removing_a_node_mid_campaign_retries_its_job_elsewhere(cluster):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    from sandboxes.job import Result

    victim = cluster["cpu"]
    marker = Path(tempfile.mkdtemp(prefix="memarch-placement-")) / "started"
    job = Job(program=SLOW_SEED.replace("PAUSE_S", "3.0"), task="synthetic", fidelity="smoke",
              limits=Limits(wall_seconds=60))
    # Start it on the node we are about to lose; soft affinity lets the retry go anywhere.
    opts = {**ray_options("process", job),
            "scheduling_strategy": NodeAffinitySchedulingStrategy(victim.node_id, soft=True)}
    ref = ray.remote(_evaluate).options(**opts).remote(job.to_json(), str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.read_text().split() == [victim.node_id]
    cluster["cluster"].remove_node(victim, allow_graceful=False)
    node, result_json = ray.get(ref, timeout=180)
    result = Result.from_json(result_json)
    assert node != victim.node_id
    assert result.status == "ok", result.error
    starts = marker.read_text().split()
    assert starts[0] == victim.node_id and starts[-1] == node and len(starts) >= 2
