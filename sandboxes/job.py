"""Jobs and results: the plain, versioned JSON that crosses every sandbox boundary."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

JOB_VERSION = 1
RESULT_VERSION = 1
STATUSES = ("ok", "invalid", "crashed", "timeout", "oom")


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields, shallow: json.dumps walks the plain containers itself
    (dataclasses.asdict deep-copies every per-item score first, a few ms a result)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 120.0
    cpu_seconds: int = 300
    memory_mb: int = 4096
    max_processes: int = 64
    max_open_files: int = 256
    max_file_mb: int = 64
    max_output_bytes: int = 64 * 1024
    # The job needs a GPU: placement sends it to a GPU node and the backend hands it the device Ray
    # assigned; memory_mb is then watched by resident size (CUDA maps huge virtual ranges).
    gpu: bool = False


@dataclass(frozen=True)
class Job:
    """Everything needed to measure one program on one task: program source, task, fidelity."""

    program: str
    task: str
    task_params: dict[str, Any] = field(default_factory=dict)
    fidelity: str = "full"  # "smoke" | "subset" | "full"
    limits: Limits = field(default_factory=Limits)
    seed: int = 0
    job_id: str = ""
    version: int = JOB_VERSION
    # Embeddings: the embedder the Kit uses ("" = the Kit's default) and a directory of
    # precomputed vectors (sandboxes/embed_cache.py) the sandbox reads; "" = compute all.
    embedder: str = ""
    embed_cache: str = ""
    # An answerer on the trusted side (sandboxes/answer.AnswerConfig fields, with `api_key_env`
    # naming the key's env var): empty = retrieval metrics only.
    answer: dict[str, Any] = field(default_factory=dict)
    # Set by the trusted side when it has already run the static checks on `program` (a campaign
    # validates every program before storing it): the evaluating worker then does not parse it again.
    validated: bool = False
    # GPUs this job may use, set on the evaluating worker from Ray's assignment to its task
    # (sandboxes/backends/gpu.py); never taken from the program. Empty: not assigned.
    gpu_ids: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({**_fields(self), "limits": _fields(self.limits)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Job":
        d = json.loads(text)
        if d.get("version") != JOB_VERSION:
            raise ValueError(f"job version {d.get('version')!r} is not {JOB_VERSION}")
        d["limits"] = Limits(**d.get("limits", {}))
        return cls(**d)


@dataclass
class Result:
    """The outcome of a job. Program failures are a status, never an exception."""

    status: str
    job_id: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    per_item: dict[str, float] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    resources: dict[str, float] = field(default_factory=dict)
    error: str = ""
    gpu_ids: list[str] = field(default_factory=list)  # the GPUs the job was given (Job.gpu_ids)
    version: int = RESULT_VERSION

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown result status {self.status!r}")

    def to_json(self) -> str:
        return json.dumps(_fields(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Result":
        d = json.loads(text)
        if d.get("version") != RESULT_VERSION:
            raise ValueError(f"result version {d.get('version')!r} is not {RESULT_VERSION}")
        return cls(**d)
