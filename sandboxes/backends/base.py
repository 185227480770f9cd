"""The one Sandbox protocol, and the trusted steps every backend shares.

A backend only has to start the harness somewhere isolated and hand back the transcript
file; building the stream, static validation and scoring happen here, outside the sandbox.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Protocol

from design_space.validate import validate_source
from sandboxes.job import Job, Result
from sandboxes.scoring import health_problem, score_transcript
from sandboxes.tasks import TaskError, get_task
from sandboxes.wire import episode_lines


def _score(task, stream, transcript, job: Job) -> dict:
    """Retrieval metrics always; with `job.answer`, an LLM answers from the recall (trusted side:
    the key is read here, never inside the sandbox) and F1 / EM / judge join the metrics."""
    own = getattr(task, "score", None)
    if own is not None:
        return own(stream, transcript)
    if not job.answer:
        return score_transcript(stream, transcript)
    import os

    from sandboxes.answer import AnswerConfig, score_with_answers

    opts = dict(job.answer)
    key_env = opts.pop("api_key_env", "")
    if key_env:
        opts["api_key"] = os.environ.get(key_env, "")
    scored, _report = score_with_answers(stream, transcript, AnswerConfig(**opts))
    return scored


class Sandbox(Protocol):
    name: str

    def run(self, job: Job) -> Result: ...


@dataclass
class Launch:
    """What a backend reports about the harness process it ran."""

    status: str  # "ok" (the harness exited and wrote a transcript), "timeout", "oom", "crashed"
    error: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0


class Launcher(Protocol):
    def launch(self, job: Job, workdir: str) -> Launch:
        """Run ``harness job.json stream.jsonl transcript.json`` inside `workdir`, isolated."""
        ...


@functools.lru_cache(maxsize=4)
def _built(task_name: str, params: str, fidelity: str, seed: int) -> tuple:
    """(task, stream, the stream file's bytes): a campaign evaluates thousands of programs on the
    same few streams, so each is built and serialised once per process. Every job still gets its
    own copy of the file (a program may write to its job dir)."""
    task = get_task(task_name)
    stream = task.build(json.loads(params), fidelity, seed)
    return task, stream, "".join(episode_lines(stream.episodes)).encode("utf-8")


@functools.lru_cache(maxsize=512)
def _problems(source: str) -> tuple:
    """Static validation is deterministic in the source: a program checked once (e.g. at its
    smoke stage) is not parsed again for its later stages."""
    return tuple(validate_source(source))


def run_job(job: Job, launcher: Launcher, *, validate: bool = True) -> Result:
    """Validate, build the stream, launch the harness, score. Never raises for a program's fault.

    ``validate=False`` skips the static checks; the hostile-program tests use it to show that
    the sandbox alone contains a program that fooled the validator. The result names the GPUs
    the job was given.
    """
    result = _run_job(job, launcher, validate)
    result.gpu_ids = list(job.gpu_ids)
    return result


def _run_job(job: Job, launcher: Launcher, validate: bool) -> Result:
    problems = _problems(job.program) if validate else []
    if problems:
        return Result(status="invalid", job_id=job.job_id, error="; ".join(p.render() for p in problems))
    try:
        task, stream, stream_bytes = _built(job.task, json.dumps(job.task_params, sort_keys=True), job.fidelity,
                                            job.seed)
    except TaskError as exc:
        return Result(status="invalid", job_id=job.job_id, error=f"task: {exc}")
    workdir = tempfile.mkdtemp(prefix="memarch-job-")
    try:
        os.chmod(workdir, 0o777)
        with open(os.path.join(workdir, "job.json"), "w", encoding="utf-8") as fh:
            fh.write(job.to_json())
        with open(os.path.join(workdir, "stream.jsonl"), "wb") as fh:
            fh.write(stream_bytes)
        t0 = time.perf_counter()
        launch = launcher.launch(job, workdir)
        resources = {"wall_s": launch.wall_s or time.perf_counter() - t0, "cpu_s": launch.cpu_s,
                     "max_rss_mb": launch.max_rss_mb}
        if launch.status != "ok":
            return Result(status=launch.status, job_id=job.job_id, error=launch.error, resources=resources)
        path = os.path.join(workdir, "transcript.json")
        try:
            with open(path, encoding="utf-8") as fh:
                transcript = json.load(fh)
        except (OSError, ValueError) as exc:
            detail = launch.error or f"no readable transcript ({exc.__class__.__name__})"
            return Result(status="crashed", job_id=job.job_id, error=detail, resources=resources)
        if transcript.get("status") != "ok":
            return Result(status=transcript.get("status", "crashed"), job_id=job.job_id,
                          error=str(transcript.get("error", ""))[:4000], resources=resources)
        try:
            # a task may score its own transcript (experience streams vote over labels)
            scored = _score(task, stream, transcript, job)
        except (KeyError, TypeError, ValueError) as exc:
            return Result(status="crashed", job_id=job.job_id, error=f"malformed transcript: {exc}",
                          resources=resources)
        return Result(status="ok", job_id=job.job_id, resources=resources,
                      error=health_problem(scored["metrics"]), **scored)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
