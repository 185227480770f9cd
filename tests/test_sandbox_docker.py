"""The docker backend against a real engine (marker ``docker``).

The engine is found through DOCKER_HOST or /var/run/docker.sock; .ci/run starts one. In CI
(env CI=true) a missing engine fails these tests; elsewhere they are skipped with the reason.
"""
from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import tarfile
import tempfile

import pytest

from sandbox_fixtures import REPO, docker_client, interpreter_entries, seed_job
from sandboxes.backends.docker import (CAMPAIGN, LABEL, OFFLINE_IMAGE, OFFLINE_LABEL, OWNER, DockerSandbox,
                                       cleanup_stale, host_binds, owner_alive, owner_tag)
from sandboxes.images.offline import skeleton_tar
from sandboxes.tasks.params import data_root

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    return docker_client()


@pytest.fixture(scope="module")
def sandbox(client):
    return DockerSandbox(client=client, campaign="test-docker")


def test_seed_scores_in_the_offline_image(sandbox, client):
    job = seed_job()
    result = sandbox.run(job)
    assert result.status == "ok", result.error
    assert result.metrics["records"] > 0
    assert client.images.get(OFFLINE_IMAGE).labels.get(OFFLINE_LABEL) == "1"


def test_no_container_is_left_after_a_job(sandbox, client):
    from sandboxes.job import Job, Limits
    sleeper = open(os.path.join(os.path.dirname(__file__), "hostile", "sleep_forever.py")).read()
    job = Job(program=sleeper.replace("__TOKEN__", "mxdsleep"), task="synthetic", fidelity="smoke",
              limits=Limits(wall_seconds=1.5), job_id="docker-leftover-check")
    result = sandbox.run(job, validate=False)
    assert result.status == "timeout"
    assert client.containers.list(all=True, filters={"label": "memarch.job=docker-leftover-check"}) == []


def test_every_fence_is_in_the_container_spec(sandbox):
    workdir = tempfile.mkdtemp()
    spec = sandbox.container_spec(seed_job(memory_mb=300, max_processes=20), workdir)
    assert spec["network_mode"] == "none" and spec["read_only"] is True
    assert spec["user"] == "65534:65534" and spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges" in spec["security_opt"]
    assert spec["mem_limit"] == "300m" and spec["memswap_limit"] == "300m" and spec["pids_limit"] == 20
    assert f"{workdir}:/job:rw" in spec["volumes"]
    assert all(v.endswith(":ro") for v in spec["volumes"] if v != f"{workdir}:/job:rw")
    assert "OPENAI_API_KEY" not in spec["environment"]
    assert spec["labels"][LABEL] == "1" and spec["labels"][CAMPAIGN] == "test-docker"
    assert "device_requests" not in spec
    os.rmdir(workdir)


@pytest.mark.parametrize("ids", [["1"], ["0", "2"]])
def test_a_gpu_job_requests_the_devices_ray_assigned(sandbox, ids, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")  # the launcher's own view must not win over the assignment
    job = dataclasses.replace(seed_job(gpu=True), gpu_ids=ids)
    requests = sandbox.container_spec(job, "/tmp")["device_requests"]
    assert [r["DeviceIDs"] for r in requests] == [ids]
    assert all(not r["Count"] for r in requests), "a count would add devices beyond the named ones"
    assert all(["gpu"] in r["Capabilities"] for r in requests)
    # CPU jobs get no device, whatever ids they carry
    assert "device_requests" not in sandbox.container_spec(dataclasses.replace(seed_job(), gpu_ids=ids), "/tmp")


def test_an_unassigned_gpu_job_asks_for_the_launchers_devices_or_any_one(sandbox, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    [request] = sandbox.container_spec(seed_job(gpu=True), "/tmp")["device_requests"]
    assert request["DeviceIDs"] == ["3"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    [request] = sandbox.container_spec(seed_job(gpu=True), "/tmp")["device_requests"]
    assert request["Count"] == 1 and not request["DeviceIDs"]


@pytest.mark.parametrize("cpus", [0.5, 2.0])
def test_the_cpus_option_is_both_the_container_quota_and_the_ray_request(client, cpus):
    from sandboxes.placement import ray_options

    box = DockerSandbox(client=client, campaign="test-docker", cpus=cpus)
    assert box.container_spec(seed_job(), "/tmp")["nano_cpus"] == int(cpus * 1e9)
    assert ray_options("docker", seed_job(), {"cpus": cpus})["num_cpus"] == cpus


def test_offline_image_binds_only_the_allow_list_read_only():
    binds = [b.split(":") for b in host_binds(None)]
    assert all(mode == "ro" for _src, _dst, mode in binds)
    inside = {dst for _src, dst, _mode in binds}
    assert sys.executable in inside and "/opt/memarch/design_space" in inside and "/opt/memarch/sandboxes" in inside
    assert "/usr" not in inside and "/" not in inside
    # nothing of the checkout but its two packages (and a virtualenv made inside it), nothing of the data directory
    repo = str(REPO)
    venv = [f"{repo}/{name}" for name in interpreter_entries(repo)]
    assert {src for src, _d, _m in binds if src.startswith(repo + "/")
            and not any(src == v or src.startswith(v + "/") for v in venv)} in (
        set(), {f"{repo}/design_space", f"{repo}/sandboxes"})
    assert not any(str(data_root()).startswith(src + "/") or src == repo for src, _d, _m in binds)


def test_skeleton_rootfs_knows_nobody_and_has_no_interpreter():
    with tarfile.open(fileobj=io.BytesIO(skeleton_tar())) as tar:
        names = tar.getnames()
        passwd = tar.extractfile("etc/passwd").read().decode()
    assert "nobody:x:65534:65534" in passwd
    assert "job" in names and not any(n.startswith("usr/") for n in names)


def _dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    tag = owner_tag(proc.pid)
    proc.wait()
    return tag


def _parked(client, campaign: str, owner: str):
    """A labelled container that would sleep for minutes, as a killed campaign leaves behind."""
    return client.containers.create(OFFLINE_IMAGE, command=[sys.executable, "-c", "import time; time.sleep(300)"],
                                    labels={LABEL: "1", CAMPAIGN: campaign, OWNER: owner},
                                    volumes=host_binds(None), network_mode="none")


def test_stale_containers_are_removed_at_the_next_start(client):
    dead, alive = _dead_owner(), owner_tag()
    assert owner_alive(dead) is False and owner_alive(alive) is True
    assert owner_alive("elsewhere:1:1") is None  # another host: left to explicit campaign cleanup
    orphan = _parked(client, "crashed-campaign", dead)
    orphan.start()
    sibling = _parked(client, "running-campaign", alive)
    try:
        box = DockerSandbox(client=client, campaign="next-campaign")
        assert box.stale_removed >= 1
        ids = {c.id for c in client.containers.list(all=True, filters={"label": LABEL})}
        assert orphan.id not in ids, "a container of a dead campaign survived the next start"
        assert sibling.id in ids, "a container of a live campaign must be left alone"
        assert cleanup_stale(client, campaign="running-campaign") == 1
        assert sibling.id not in {c.id for c in client.containers.list(all=True, filters={"label": LABEL})}
    finally:
        for c in (orphan, sibling):
            try:
                c.remove(force=True)
            except Exception:  # noqa: BLE001 - already removed, as expected
                pass


def test_a_container_removed_while_the_sweep_runs_is_skipped(client, monkeypatch):
    """Another worker removes its container between the engine's list and the sweep's inspect and
    remove: the sweep (run by every worker's sandbox at start) must go on, not fail the evaluation.
    The race is made certain by answering the sweep's list with the engine's own answer from before
    the removal."""
    dead = _dead_owner()
    gone = _parked(client, "finished-campaign", owner_tag())
    orphan = _parked(client, "crashed-campaign", dead)
    late = None
    try:
        before = client.api.containers(all=True, filters={"label": LABEL})
        assert {gone.id, orphan.id} <= {c["Id"] for c in before}
        gone.remove(force=True)  # its owner is done with it
        monkeypatch.setattr(client.api, "containers", lambda *a, **k: before)
        assert cleanup_stale(client) >= 1  # the orphan still goes; the vanished one is skipped
        monkeypatch.undo()
        assert orphan.id not in {c.id for c in client.containers.list(all=True, filters={"label": LABEL})}
        # and the removal itself racing the owner: listed, inspected, then gone before `remove`
        late = _parked(client, "crashed-campaign", dead)
        real_get = client.containers.get

        def get_then_lose(cid):
            found = real_get(cid)
            if cid == late.id:
                late.remove(force=True)
            return found

        monkeypatch.setattr(client.containers, "get", get_then_lose)
        cleanup_stale(client)  # must not raise NotFound
    finally:
        for c in (gone, orphan, late):
            try:
                if c is not None:
                    c.remove(force=True)
            except Exception:  # noqa: BLE001 - already removed, as expected
                pass


def test_cpu_limit_fires_in_a_container(sandbox):
    from sandboxes.job import Job, Limits
    spin = open(os.path.join(os.path.dirname(__file__), "hostile", "infinite_loop.py")).read()
    result = sandbox.run(Job(program=spin.replace("__TOKEN__", "mxdcpu"), task="synthetic", fidelity="smoke",
                             limits=Limits(wall_seconds=60, cpu_seconds=1)), validate=False)
    assert result.status == "timeout" and "CPU limit of 1 s" in result.error, result.error


def test_an_image_with_its_own_python_gets_no_host_binds(client):
    # Built locally FROM the offline image (no registry), labelled as a self-contained image.
    tag = "memarch-sandbox:selfcontained-test"
    client.images.build(fileobj=io.BytesIO(f"FROM {OFFLINE_IMAGE}\nLABEL {OFFLINE_LABEL}=0\n".encode()),
                        tag=tag, rm=True, pull=False)
    try:
        box = DockerSandbox(image=tag, client=client, campaign="test-docker")
        workdir = tempfile.mkdtemp()
        spec = box.container_spec(seed_job(), workdir)
        assert spec["volumes"] == [f"{workdir}:/job:rw"] or all("/opt/memarch" not in v and sys.executable not in v
                                                               for v in spec["volumes"])
        assert spec["command"][-1].startswith("exec python -I -m sandboxes.harness")
        assert spec["environment"]["PATH"].startswith("/opt/venv/bin:/usr/local/bin")
        os.rmdir(workdir)
    finally:
        client.images.remove(tag, force=True)
