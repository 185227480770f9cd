"""Backends the sandbox tests can run on this machine, and the docker engine rule.

In CI (env CI=true) a missing Docker engine or bubblewrap fails the tests that need it; elsewhere they are
skipped with the reason. Tests reach the engine through DOCKER_HOST or /var/run/docker.sock.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ci import missing
from sandboxes.backends import fences
from sandboxes.job import Job, Limits

REPO = Path(__file__).resolve().parents[1]
SEED = (REPO / "design_space" / "seeds" / "recency_window.py").read_text()
BACKENDS = ["process", "process-bwrap", "forkserver", "docker"]


def interpreter_entries(directory: str | Path) -> set[str]:
    """Names directly in `directory` a sandbox may show only because the interpreter lives below it.

    The view binds the interpreter where it is (Python finds its site-packages from its own path),
    so a virtualenv made inside the checkout, or under the temp dir, puts its own path in the
    view: the directory then holds that one entry (the venv, or the dir leading to it) and nothing
    else. Empty when the interpreter lives elsewhere, as it does on most machines.
    """
    directory = os.path.realpath(directory)
    names = set()
    for path in {sys.prefix, sys.base_prefix, os.path.dirname(sys.executable)}:
        for candidate in {path, os.path.realpath(path)}:
            if candidate.startswith(directory.rstrip("/") + "/"):
                names.add(Path(candidate).relative_to(directory).parts[0])
    return names


def docker_client():
    """A live client with the offline image built, or skip (fail in CI) naming the cause."""
    from sandboxes.backends.docker import OFFLINE_IMAGE, DockerUnavailable, client_from_env
    from sandboxes.images.offline import build_offline

    try:
        client = client_from_env()
    except DockerUnavailable as exc:
        missing(f"a Docker engine: {exc}")
    try:
        client.images.get(OFFLINE_IMAGE)
    except Exception:  # noqa: BLE001 - not built yet on this engine
        build_offline(client)
    return client


def make_backend(name: str, campaign: str = "tests"):
    """The sandbox for a backend id, or skip with the reason it cannot run here."""
    from sandboxes.backends.forkserver import ForkserverSandbox
    from sandboxes.backends.process import ProcessSandbox

    if name == "process":
        return ProcessSandbox(bwrap=False)
    if name == "process-bwrap":
        if not shutil.which("bwrap"):
            missing("bubblewrap is not installed (apt-get install bubblewrap)")
        return ProcessSandbox(bwrap=True)
    if name == "forkserver":
        return ForkserverSandbox()
    if name == "docker":
        from sandboxes.backends.docker import DockerSandbox
        return DockerSandbox(client=docker_client(), campaign=campaign)
    raise ValueError(name)


def fully_fenced(name: str) -> bool:
    """Whether this backend has namespaces here (root, or bwrap, or docker)."""
    return name in ("docker", "process-bwrap") or fences.probe()["namespaces"]


def seed_job(**limits) -> Job:
    return Job(program=SEED, task="synthetic", fidelity="smoke", limits=Limits(**{"wall_seconds": 30, **limits}))
