"""How fast one evaluation on all of LoCoMo runs: cold (embedding cache built first) vs. warm.

Target (issue 4): on 2 cores with a warm cache, a dense-retrieval seed evaluates on all of
LoCoMo (10 conversations, 1,986 questions) in under 10 s wall, BM25 in under 5 s. Each
evaluation is a full `ProcessSandbox().run(job)`: stream built, harness launched in its
fenced child process, transcript scored.

    python bench/eval_speed.py [--embedder minilm] [--seeds bm25_rag,dense_rag] [--cache DIR] [--uncached]

Prints a table and writes bench/results/eval_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from design_space.seeds import seed_source  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.embed_cache import build  # noqa: E402
from sandboxes.job import Job, Limits  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402

TARGETS = {"bm25_rag": 5.0, "dense_rag": 10.0}


def evaluate(seed: str, params: dict, embedder: str, cache: str) -> tuple[float, dict]:
    job = Job(program=seed_source(seed), task="locomo", task_params=params, fidelity="full",
              limits=Limits(wall_seconds=600, cpu_seconds=1200), embedder=embedder, embed_cache=cache)
    t0 = time.perf_counter()
    result = ProcessSandbox().run(job)
    wall = time.perf_counter() - t0
    if result.status != "ok":
        raise SystemExit(f"{seed}: {result.status}: {result.error[:500]}")
    return wall, result.metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--seeds", default="bm25_rag,dense_rag")
    ap.add_argument("--path", default="", help="locomo10.json (default: $MEMARCH_DATA or ../shared/data)")
    ap.add_argument("--cache", default="", help="reuse this cache directory (default: a fresh one, so cold is cold)")
    ap.add_argument("--uncached", action="store_true", help="also time a run that embeds inside the sandbox")
    args = ap.parse_args()
    params = {"path": args.path} if args.path else {}
    t0 = time.perf_counter()
    stream = get_task("locomo").build(params, "full", 0)
    build_s = time.perf_counter() - t0
    n_q, n_ep = len(stream.gold), len(stream.episodes)
    # A fresh directory unless one is given, so "cold" is cold; the cache makes it 0755 for the sandbox.
    fresh = os.path.join(tempfile.mkdtemp(prefix="memarch-bench-"), "cache")
    root = os.path.abspath(args.cache) if args.cache else fresh
    print(f"LoCoMo full: {n_ep} conversations, {n_q} questions; stream built in {build_s:.2f} s; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; embedder {args.embedder}", flush=True)
    t0 = time.perf_counter()
    info = build(stream.episodes, args.embedder, root)
    cache_s = time.perf_counter() - t0
    print(f"embedding cache {root}: {int(info['texts'])} texts, {int(info['computed'])} embedded in {cache_s:.1f} s",
          flush=True)
    print(f"{'seed':<12} {'cold s':>8} {'warm s':>8} {'target':>7} {'ok':>4} {'recall':>7} {'misses':>7}"
          + (f" {'uncached s':>11}" if args.uncached else ""), flush=True)
    rows = []
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds.split(","):
        cold_eval, _ = evaluate(seed, params, args.embedder, root)
        warm, metrics = evaluate(seed, params, args.embedder, root)
        r = {"seed": seed, "cold_s": cache_s + cold_eval, "cold_eval_s": cold_eval, "warm_s": warm,
             "recall": metrics.get("recall", 0.0), "embed_misses": metrics.get("embed_misses", 0.0),
             "retrieve_ms_p50": metrics.get("retrieve_ms_p50", 0.0), "target_s": TARGETS.get(seed),
             "load_avg": os.getloadavg()[0]}
        if args.uncached:
            r["uncached_s"], _ = evaluate(seed, params, args.embedder, "")
        rows.append(r)
        ok = "" if r["target_s"] is None else ("yes" if r["warm_s"] < r["target_s"] else "NO")
        target = f"{r['target_s']:.0f}" if r["target_s"] else "-"
        print(f"{r['seed']:<12} {r['cold_s']:>8.2f} {r['warm_s']:>8.2f} {target:>7} {ok:>4} {r['recall']:>7.3f}"
              f" {int(r['embed_misses']):>7}" + (f" {r['uncached_s']:>11.2f}" if args.uncached else ""), flush=True)
        (out / "eval_speed.json").write_text(json.dumps({
            "task": "locomo", "questions": n_q, "conversations": n_ep, "embedder": args.embedder,
            "cores": os.cpu_count(), "python": platform.python_version(), "stream_build_s": build_s,
            "cache": {**info, "seconds": cache_s, "reused": bool(args.cache)}, "rows": rows}, indent=2))


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"eval_speed: {exc}")
