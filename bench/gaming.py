"""Evaluate the gaming programs of the adversarial suite (tests/gaming/) beside bm25_rag.

    python bench/gaming.py [--tasks locomo,synthetic] [--programs a,b] [--jobs 2]

Each program is run exactly as `memarch eval FILE --task T --fidelity full` runs it (the
process sandbox, the task's default parameters); the table shows what the evidence-credit
rule leaves them. Writes bench/results/gaming.json, which bench/baselines.py shows in
docs/BASELINES.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from design_space.seeds import seed_source  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.job import Job, Limits  # noqa: E402

GAMING = ROOT / "tests" / "gaming"
KEYS = ("recall", "ndcg", "mrr", "session_recall", "tokens")


def run_one(name: str, source: str, task: str, wall: float) -> dict:
    job = Job(program=source, task=task, fidelity="full", job_id=f"{name}/{task}",
              limits=Limits(wall_seconds=wall, cpu_seconds=int(wall * 2)))
    t0 = time.perf_counter()
    r = ProcessSandbox().run(job)
    return {"program": name, "task": task, "status": r.status, "wall_s": time.perf_counter() - t0,
            "error": r.error.strip().splitlines()[-1][:200] if r.error else "",
            "metrics": {k: r.metrics.get(k) for k in KEYS},
            "doc": " ".join(source.split('"""')[1].strip().split("\n\n")[0].split()) if '"""' in source else ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="locomo,synthetic")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--wall", type=float, default=900.0)
    ap.add_argument("--programs", default="", help="only these (comma-separated); their rows replace the saved ones")
    args = ap.parse_args()
    programs = [("bm25_rag", seed_source("bm25_rag"))] + [(p.stem, p.read_text()) for p in sorted(GAMING.glob("*.py"))]
    only = [p for p in args.programs.split(",") if p]
    if only:
        programs = [(n, s) for n, s in programs if n in only]
    plan = [(n, s, t) for t in args.tasks.split(",") if t for n, s in programs]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()  # at the start: the scoring rule the rows are under
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for f in [pool.submit(run_one, n, s, t, args.wall) for n, s, t in plan]:
            row = f.result()
            rows.append(row)
            m = row["metrics"]
            print(f"{row['program']:<20} {row['task']:<10} {row['status']:<8} recall {m['recall'] or 0:.3f} "
                  f"tokens {m['tokens'] or 0:6.1f}  wall {row['wall_s']:.1f} s {row['error'][:60]}", flush=True)
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python bench/gaming.py " + " ".join(sys.argv[1:]), "commit": commit}
    out = ROOT / "bench" / "results" / "gaming.json"
    if only and out.is_file():  # a partial run keeps the other rows and the first command
        saved = json.loads(out.read_text())
        done = {(r["program"], r["task"]) for r in rows}
        rows = [r for r in saved["rows"] if (r["program"], r["task"]) not in done] + rows
        meta = {**saved["meta"], "date": meta["date"], "rerun": meta["command"], "commit": commit}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
