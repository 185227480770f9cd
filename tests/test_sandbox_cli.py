"""`memarch sandbox check` and `memarch sandbox build`, called as the CLI calls them."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from evolve.commands.sandbox import sandbox_build_command, sandbox_check_command
from sandbox_fixtures import docker_client


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200), out


def test_check_proves_every_fence_holds_on_the_process_backend():
    console, out = _console()
    assert sandbox_check_command(["process"], console=console) == 0
    text = out.getvalue()
    assert "BROKEN" not in text
    assert text.count("held") == 6  # the good program plus five attacks
    assert "filesystem: only the allow-list is visible" in text
    assert "network / mount / PID namespaces" in text


def test_check_says_whether_gpu_jobs_would_work_here():
    import glob

    torch = pytest.importorskip("torch")
    console, out = _console()
    assert sandbox_check_command(["process"], console=console) == 0  # no GPU is no failure
    text = out.getvalue()
    verdict = next(line for line in text.splitlines() if "GPU jobs would work here" in line)
    works = torch.cuda.is_available() and bool(glob.glob("/dev/nvidia*"))
    assert ("yes" in verdict) == works, verdict
    torch_row = next(line for line in text.splitlines() if "torch sees a CUDA GPU" in line)
    assert torch.__version__ in torch_row
    if works:
        assert "process: GPU job: torch CUDA matmul" in text


def test_check_rejects_an_unknown_backend():
    console, _ = _console()
    assert sandbox_check_command(["nope"], console=console) == 2


def test_build_rejects_an_unknown_variant():
    console, _ = _console()
    assert sandbox_build_command("bogus", console=console) == 2


@pytest.mark.docker
def test_build_makes_the_offline_image():
    client = docker_client()
    console, out = _console()
    assert sandbox_build_command("offline", console=console) == 0
    assert "built memarch-sandbox:offline" in out.getvalue()
    assert client.images.get("memarch-sandbox:offline").labels["memarch.offline"] == "1"


def test_check_reports_a_view_beyond_the_allow_list_as_broken():
    """The filesystem probe can fail: a process sandbox without its mount namespace sees the
    checkout's runs/ and the data directory, and the check says so."""
    from sandboxes.backends.process import ProcessSandbox
    from sandboxes.backends.selfcheck import check_backend

    box = ProcessSandbox(bwrap=False)
    box.isolate = False  # the rlimits and the clean environment only, as on a node without namespaces
    checks, _ms = check_backend(box)
    fs = next(c for c in checks if c.name.startswith("filesystem"))
    assert not fs.held and "SEEN" in fs.detail, fs.detail
