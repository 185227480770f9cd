"""Experience-stream seeds on BANKING77 and the drift stream: accuracy, footprint and speed per seed.

Runs every ``exp_*`` seed (and any program file given) through the process sandbox on an
experience task, with the chosen embedder (model embeddings are cached once, on the trusted
side, as a campaign does). Prints a table and writes JSON.

    python -m bench.experience_seeds --task banking77 --fidelity full --embedder hashing
    python -m bench.experience_seeds --task drift --fidelity full
    python -m bench.experience_seeds --task banking77 --program runs/x/winner.py --program-task locomo
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from design_space.seeds import seed_names, seed_source
from sandboxes.backends import get_sandbox
from sandboxes.job import Job, Limits
from sandboxes.tasks import TaskError, get_task

COLUMNS = ("accuracy", "accuracy_first", "accuracy_last", "accuracy_before_drift", "accuracy_after_drift", "records",
           "memory_kb", "tokens", "latency_ms", "step_ms")


def evaluate(name: str, source: str, task: str, fidelity: str, params: dict, embedder: str, cache: str) -> dict:
    job = Job(program=source, task=task, task_params=params, fidelity=fidelity, job_id=name,
              limits=Limits(wall_seconds=900, cpu_seconds=900), embedder=embedder, embed_cache=cache)
    t0 = time.perf_counter()
    result = get_sandbox("process").run(job)
    row = {"program": name, "status": result.status, "wall_s": round(time.perf_counter() - t0, 2),
           "error": result.error[-300:]}
    row.update({k: round(result.metrics[k], 4) for k in COLUMNS if k in result.metrics})
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="banking77")
    ap.add_argument("--fidelity", default="full")
    ap.add_argument("--embedder", default="hashing")
    ap.add_argument("--params", default="{}", help="task parameters as JSON")
    ap.add_argument("--seeds", default="", help="comma-separated seed names (default: every exp_* seed)")
    ap.add_argument("--program", action="append", default=[], help="a program file to evaluate as well")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "experience_seeds.json"))
    args = ap.parse_args()
    params = json.loads(args.params)
    get_task(args.task).build(params, "smoke", 0)  # the data is there, or one line saying where
    cache = ""
    if not args.embedder.startswith("hashing"):
        from evolve.campaign_setup import default_cache_dir
        from sandboxes.embed_cache import build, stream_variants

        cache = str(default_cache_dir() / "embeddings")
        stream = get_task(args.task).build(params, args.fidelity, 0)
        stats = build(stream.episodes, args.embedder, cache, variants=stream_variants(stream))
        print(f"embedded {stats['computed']:.0f} of {stats['texts']:.0f} texts in {stats['seconds']:.1f} s")
    names = args.seeds.split(",") if args.seeds else [n for n in seed_names() if n.startswith("exp_")]
    programs = [(n, seed_source(n)) for n in names] + [(p, Path(p).read_text()) for p in args.program]
    rows = [evaluate(n, src, args.task, args.fidelity, params, args.embedder, cache) for n, src in programs]
    print(f"{args.task} ({args.fidelity}, embedder {args.embedder})")
    cols = ["program", "status"] + [c for c in COLUMNS if any(c in r for r in rows)] + ["wall_s"]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) for c in cols) + (f"  {r['error']}" if r["status"] != "ok" else ""))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.is_file() else {}
    old[f"{args.task}/{args.fidelity}/{args.embedder}/{json.dumps(params, sort_keys=True)}"] = rows
    out.write_text(json.dumps(old, indent=1))


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"experience_seeds: {exc}")
