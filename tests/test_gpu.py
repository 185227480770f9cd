"""GPU jobs end to end: the device Ray assigns reaches the sandboxed program, and memory holds.

- Direct runs (no Ray): a GPU job sees the ids its Job carries in ``CUDA_VISIBLE_DEVICES``,
  a CPU job sees none; a GPU job has no address-space limit, and its resident-size watch
  ends a job that allocates past ``memory_mb`` as "oom".
- Ray with two declared (fake) GPUs: two GPU jobs in flight through the campaign's
  evaluator; each program reports what it sees and must see exactly the id Ray gave its task.
- A real GPU (torch CUDA matmul, and Titans beside CUDA work, in each backend): skipped with
  the reason where ``torch.cuda.is_available()`` is false.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import pytest

from sandbox_fixtures import REPO, make_backend
from sandboxes.job import Job, Limits

SEES = '''
import json, os, time
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        start = time.time()
        time.sleep(PAUSE)
        seen = {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}
        raise RuntimeError("REPORT" + json.dumps(seen) + "END")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''

RESERVES = '''
import mmap
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        try:
            mmap.mmap(-1, RESERVE_MB << 20)  # address space only: no page is touched
            seen = "reserved"
        except (OSError, MemoryError, ValueError) as exc:
            seen = "refused " + exc.__class__.__name__
        raise RuntimeError("REPORT" + repr(seen) + "END")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''

GROWS = '''
import time
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        held = []
        for _ in range(CHUNKS):
            held.append(bytes([1]) * (32 << 20))  # written, so resident
            time.sleep(0.02)
        raise RuntimeError("REPORT allocated %d MB without being stopped END" % (32 * len(held)))
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''

CUDA_MATMUL = '''
import json, os
import torch
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event):
        seen = {"available": torch.cuda.is_available(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "nvidia": os.environ.get("NVIDIA_VISIBLE_DEVICES")}
        if seen["available"]:
            a = torch.arange(16.0, device="cuda").reshape(4, 4)
            seen["trace"] = float((a @ a.T).trace().item())
            seen["device"] = str(a.device)
        raise RuntimeError("REPORT" + json.dumps(seen) + "END")
    def store(self, records): pass
    def retrieve(self, query): return Recall(())
    def manage(self, signal): pass
'''

# Titans as written, plus CUDA work in the same process: torch with the driver under the sandbox's fences.
TITANS_CUDA = (REPO / "design_space" / "seeds" / "titans.py").read_text() + '''

_Titans = Memory


class Memory(_Titans):
    def __init__(self, kit):
        super().__init__(kit)
        ones = torch.ones(64, 64, device="cuda")
        if float((ones @ ones).sum().item()) != 64.0 ** 3:
            raise RuntimeError("wrong CUDA matmul inside the sandbox")
'''


def _job(program: str, **kw) -> Job:
    limits = {"wall_seconds": 60, **kw.pop("limits", {})}
    return Job(program=program, task="synthetic", fidelity="smoke", limits=Limits(**limits), **kw)


def _report(result):
    text = result.error
    assert "REPORT" in text, f"{result.status}: {text[-800:]}"
    return json.loads(text[text.rindex("REPORT") + 6:text.rindex("END")].strip().replace("'", '"'))


@pytest.fixture(scope="module", params=["process", "forkserver"])
def box(request):
    sandbox = make_backend(request.param)
    yield sandbox
    if hasattr(sandbox, "close"):
        sandbox.close()


def test_gpu_job_sees_its_assigned_ids_and_a_cpu_job_sees_none(box, monkeypatch):
    # The launcher's own variable (a Ray worker's, say) must not win over the job's assignment.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    program = SEES.replace("PAUSE", "0")
    for ids in (["3"], ["1", "2"]):
        seen = _report(box.run(_job(program, limits={"gpu": True}, gpu_ids=ids), validate=False))
        assert seen["cuda"] == ",".join(ids)
    cpu = box.run(_job(program, gpu_ids=["3"]), validate=False)  # ids on a CPU job change nothing
    assert _report(cpu)["cuda"] == ""
    assert cpu.gpu_ids == ["3"]  # the result names what the job was given


def test_gpu_job_has_no_address_space_limit(box):
    program = RESERVES.replace("RESERVE_MB", "3072")
    limits = {"memory_mb": 1024}
    assert _report(box.run(_job(program, limits=limits), validate=False)).startswith("refused")
    assert _report(box.run(_job(program, limits={**limits, "gpu": True}), validate=False)) == "reserved"


def test_gpu_job_past_its_memory_limit_ends_oom(box):
    # 40 chunks of 32 MB: 1280 MB against a 512 MB limit; without the watch the program finishes and says so.
    result = box.run(_job(GROWS.replace("CHUNKS", "40"), limits={"memory_mb": 512, "gpu": True}), validate=False)
    assert result.status == "oom", f"{result.status}: {result.error[-500:]}"
    assert "512 MB" in result.error
    # The same program within its limit is left alone: the watch measures, it does not guess.
    small = box.run(_job(GROWS.replace("CHUNKS", "4"), limits={"memory_mb": 1024, "gpu": True}), validate=False)
    assert small.status == "crashed" and "allocated 128 MB without being stopped" in small.error


# ---- Ray with declared GPUs ------------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_gpu_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=80 * 2**20)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("backend", ["process", "forkserver"])
def test_each_program_sees_exactly_the_gpu_ray_gave_its_task(fake_gpu_ray, backend):
    from evolve.evaluate import RayEvaluator

    evaluator = RayEvaluator(backend)
    # Each job carries ids of its own choosing: the worker must replace them with Ray's assignment.
    # (validated: the probe reads os.environ, which the static checks would refuse)
    job = _job(SEES.replace("PAUSE", "4"), limits={"gpu": True}, gpu_ids=["7"], validated=True)
    for tag in ("a", "b"):
        evaluator.submit(tag, dataclasses.replace(job, job_id=tag))
    done = []
    deadline = time.monotonic() + 240
    while len(done) < 2 and time.monotonic() < deadline:
        done += evaluator.wait(timeout=10)
    assert len(done) == 2, "the GPU jobs did not finish"
    seen = {}
    for tag, result in done:
        report = _report(result)
        assert len(result.gpu_ids) == 1 and result.gpu_ids[0] in ("0", "1"), result.gpu_ids
        assert report["cuda"] == result.gpu_ids[0], f"job {tag} saw {report['cuda']!r}, Ray gave {result.gpu_ids}"
        seen[tag] = report
    a, b = seen["a"], seen["b"]
    if a["start"] < b["end"] and b["start"] < a["end"]:  # in flight together: Ray gave them different GPUs
        assert a["cuda"] != b["cuda"]


def test_an_evaluator_refuses_a_request_no_node_can_meet(fake_gpu_ray):
    from evolve.config import ConfigError
    from evolve.evaluate import RayEvaluator

    # the node has 2 CPUs and 2 GPUs, no docker resource: 3 CPUs per container can never be placed
    with pytest.raises(ConfigError, match="3 CPU"):
        RayEvaluator("docker", {"cpus": 3.0}).submit("x", _job(SEES.replace("PAUSE", "0")))


# ---- a real GPU ----------------------------------------------------------------------------

def _cuda_reason() -> str:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"no CUDA GPU on this machine (torch {torch.__version__}: torch.cuda.is_available() is false)"
    return ""


needs_cuda = pytest.mark.skipif(bool(_cuda_reason()), reason=_cuda_reason() or "CUDA present")


@needs_cuda
@pytest.mark.parametrize("backend", ["process", "process-bwrap", "forkserver", "docker"])
def test_torch_cuda_matmul_inside_each_backend(backend):
    if backend == "docker":
        from sandboxes.backends.docker import DockerSandbox
        from sandbox_fixtures import docker_client
        box = DockerSandbox(client=docker_client(), image=os.environ.get("MEMARCH_CUDA_IMAGE", "memarch-sandbox:offline"))
    else:
        box = make_backend(backend)
    try:
        # no RLIMIT_AS for GPU jobs: CUDA's reservations would not fit in 4 GB of address space
        seen = _report(box.run(_job(CUDA_MATMUL, limits={"gpu": True, "memory_mb": 4096}, gpu_ids=["0"]),
                               validate=False))
        assert seen["available"], seen
        assert seen["trace"] == float(sum(x * x for x in range(16)))  # trace(A A^T) = sum of squares
        if backend == "docker":
            assert seen["nvidia"] == "0"  # the device request named device 0
        else:
            assert seen["cuda"] == "0"
        titans = box.run(_job(TITANS_CUDA, limits={"gpu": True, "memory_mb": 4096}, gpu_ids=["0"]), validate=False)
        assert titans.status == "ok", titans.error[-800:]
        assert titans.metrics["records"] > 0
    finally:
        if hasattr(box, "close"):
            box.close()

