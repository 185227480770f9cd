"""The entry point inside any sandbox: read job and stream, load the program, replay, write transcript.

Usage: ``python -I -m sandboxes.harness JOB.json STREAM.jsonl TRANSCRIPT.json``

Imports only ``design_space`` and the stream format; never ``evolve``, never keys, never gold.
Program failures end up in the transcript (status crashed / oom), never as a traceback to
the caller. The transcript is written last and the process ends with ``os._exit`` so that
threads the program left behind cannot write after it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from typing import Any

from design_space.contract import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.kit import Kit, count_tokens
from sandboxes.footprint import Footprint, FootprintError
from sandboxes.job import Job
from sandboxes.wire import read_episodes

MAX_ERROR = 4000


class ProgramError(Exception):
    """The program broke the contract (wrong type, missing class)."""


def load_program(source: str, workdir: str) -> type[MemoryProgram]:
    path = os.path.join(workdir, "candidate.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("candidate", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["candidate"] = module
    spec.loader.exec_module(module)
    cls = getattr(module, "Memory", None)
    if not (isinstance(cls, type) and issubclass(cls, MemoryProgram)):
        raise ProgramError("module defines no class Memory(MemoryProgram)")
    return cls


def pack(recall: Any, budget: int) -> tuple[list[list[Any]], int, bool]:
    """Keep items in rank order while they fit in the token budget."""
    if not isinstance(recall, Recall):
        raise ProgramError(f"retrieve returned {type(recall).__name__}, expected Recall")
    kept: list[list[Any]] = []
    used = 0
    over = False
    for item in recall.items:
        if not isinstance(item, RecallItem):
            raise ProgramError(f"Recall.items holds {type(item).__name__}, expected RecallItem")
        if not isinstance(item.text, str):
            raise ProgramError(f"RecallItem.text is {type(item.text).__name__}, expected str")
        n = count_tokens(item.text)
        if used + n > budget:
            over = True
            break
        used += n
        kept.append([item.text, list(item.source_ids), float(item.score)])
    return kept, used, over


def replay(job: Job, stream_path: str, workdir: str, kit_factory=Kit) -> dict[str, Any]:
    cls = load_program(job.program, workdir)
    footprint_of = Footprint(sys.modules["candidate"], os.path.join(workdir, "candidate.py"), job.program)
    queries: dict[str, Any] = {}
    ops: dict[str, list[float]] = {"ingest": [], "retrieve": [], "manage": []}
    records = 0
    footprint = 0
    kits = []
    for _ep_id, steps in read_episodes(stream_path):
        kit = kit_factory()
        kits.append(kit)
        footprint_of.watch(kit)
        mem = cls(kit)
        for step in steps:
            t0 = time.perf_counter()
            if isinstance(step, Event):
                recs = mem.encode(step)
                if not isinstance(recs, list):
                    raise ProgramError(f"encode returned {type(recs).__name__}, expected list")
                mem.store(recs)
                records += len(recs)
                ops["ingest"].append((time.perf_counter() - t0) * 1000)
            elif isinstance(step, Query):
                kept, used, over = pack(mem.retrieve(step), step.budget_tokens)
                ms = (time.perf_counter() - t0) * 1000
                ops["retrieve"].append(ms)
                queries[step.id] = {"items": kept, "tokens": used, "over_budget": over, "latency_ms": ms}
            elif isinstance(step, Signal):
                mem.manage(step)
                ops["manage"].append((time.perf_counter() - t0) * 1000)
        footprint += footprint_of.episode_bytes(mem, kit)
        del mem
    return {
        "status": "ok",
        "queries": queries,
        "ops": ops,
        "footprint": {"records": records, "bytes": footprint},
        "llm": {"calls": sum(k.llm_calls for k in kits), "tokens": sum(k.llm_tokens for k in kits)},
        # The answerer on the trusted side reads the recall the way the program asks it to.
        "instructions": str(getattr(cls, "INSTRUCTIONS", ""))[:MAX_ERROR],
    }


def _kit_factory(job: Job):
    """Kits share one embedder per process, so a cache is read and a model loaded once."""
    from sandboxes.embed_cache import embedder_for_job

    shared = embedder_for_job(job.embedder, job.embed_cache)
    return (Kit if shared is None else (lambda: Kit(embedder=shared))), shared


def main(argv: list[str]) -> None:
    job_path, stream_path, out_path = argv
    workdir = os.path.dirname(os.path.abspath(out_path))
    try:
        with open(job_path, encoding="utf-8") as fh:
            job = Job.from_json(fh.read())
        factory, shared = _kit_factory(job)
        transcript = replay(job, stream_path, workdir, factory)
        if shared is not None:
            transcript["embed"] = {"hits": shared.hits, "misses": shared.misses}
    except MemoryError:
        transcript = {"status": "oom", "error": "MemoryError: the program exceeded its memory limit"}
    except RecursionError as exc:
        transcript = {"status": "crashed", "error": f"RecursionError: {exc}"}
    except FootprintError as exc:
        transcript = {"status": "crashed", "error": f"footprint: {exc}"[:MAX_ERROR]}
    except BaseException as exc:  # noqa: BLE001 - every program failure becomes a result
        if isinstance(exc, SystemExit):
            msg = f"program called exit({exc.code!r})"
        elif isinstance(exc, ProgramError):
            msg = f"contract violation: {exc}"
        else:
            msg = "".join(traceback.format_exception(exc))[-MAX_ERROR:]
        transcript = {"status": "crashed", "error": msg}
    data = json.dumps(transcript)
    tmp = out_path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = memoryview(data.encode())
    while buf:
        buf = buf[os.write(fd, buf):]
    os.close(fd)
    os.replace(tmp, out_path)
    os._exit(0)


def init_if_pid1() -> None:
    """As PID 1 of a sandbox's PID namespace, fork the harness and stay behind as its init.

    The kernel ignores default-action signals such as SIGXCPU (the CPU limit) for a
    namespace's init, so the harness must not be PID 1. The init reaps orphans and exits
    with the harness's status (128+N for death by signal N); its exit ends everything left.
    """
    if os.getpid() != 1:
        return
    child = os.fork()
    if child == 0:
        return
    while True:
        pid, status = os.wait()
        if pid == child:
            os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    init_if_pid1()
    main(sys.argv[1:])
