"""Spawn-to-result time of a no-op program, per sandbox backend: median and p95.

Targets on a 2-core machine: forkserver <= 50 ms, process <= 400 ms, docker <= 800 ms.
Run: ``python bench/sandbox_overhead.py [-n 30] [--backend process ...]``; docker needs an
engine (DOCKER_HOST) and ``memarch sandbox build``. Prints a table, writes
bench/results/sandbox_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes.backends import get_sandbox  # noqa: E402
from sandboxes.job import Job, Limits  # noqa: E402

NOOP = '''
from design_space import MemoryProgram, Recall


class Memory(MemoryProgram):
    def encode(self, event):
        return []

    def store(self, records):
        pass

    def retrieve(self, query):
        return Recall(())

    def manage(self, signal):
        pass
'''
TARGETS_MS = {"forkserver": 50, "process": 400, "process-bwrap": 400, "docker": 800}
TINY = {"sessions": 1, "chat_per_session": 1, "people": 1}


def measure(name: str, n: int, warmup: int) -> dict:
    options = {"bwrap": True} if name == "process-bwrap" else {}
    sandbox = get_sandbox(name.split("-")[0], **options)
    job = Job(program=NOOP, task="synthetic", task_params=TINY, fidelity="smoke", limits=Limits(wall_seconds=60))
    times, inside, cpu = [], [], []
    for i in range(warmup + n):
        t0 = time.perf_counter()
        result = sandbox.run(job)
        ms = (time.perf_counter() - t0) * 1000
        if result.status != "ok":
            raise SystemExit(f"{name}: the no-op job ended {result.status}: {result.error[:300]}")
        if i >= warmup:
            times.append(ms)
            inside.append(result.resources["wall_s"] * 1000)
            cpu.append(result.resources.get("cpu_s", 0.0) * 1000)
    if hasattr(sandbox, "close"):
        sandbox.close()
    times.sort()
    return {"backend": name, "n": n, "median_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))],
            "target_ms": TARGETS_MS.get(name), "launch_median_ms": statistics.median(inside),
            "job_cpu_median_ms": statistics.median(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backend", action="append", choices=list(TARGETS_MS))
    args = parser.parse_args()
    names = args.backend or list(TARGETS_MS)
    rows = []
    load_before = os.getloadavg()
    for name in names:
        try:
            rows.append(measure(name, args.n, args.warmup))
        except Exception as exc:  # noqa: BLE001 - an unavailable backend is reported, not fatal
            print(f"{name}: skipped ({exc.__class__.__name__}: {str(exc)[:120]})")
    # "launch" is the sandbox alone (the rest of a run is validation, the stream and scoring);
    # "job cpu" is the CPU the sandboxed processes used, which a busy machine does not inflate
    # (docker does not report it).
    print(f"{'backend':<14} {'median ms':>10} {'p95 ms':>8} {'launch ms':>10} {'job cpu ms':>11} {'target':>7} {'n':>4}")
    for r in rows:
        print(f"{r['backend']:<14} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['launch_median_ms']:>10.1f}"
              f" {r['job_cpu_median_ms']:>11.1f} {r['target_ms']:>7} {r['n']:>4}")
    print(f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    out = Path(__file__).resolve().parent / "results" / "sandbox_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                           "load_avg_before": load_before,
                                           "load_avg_after": os.getloadavg()},
                               "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
