"""Evaluate every seed program on every task and write docs/BASELINES.md (and JSON).

    python bench/baselines.py [--seeds a,b] [--tasks locomo,longmemeval,babi,synthetic]
                              [--embedder minilm] [--jobs 2]
    python bench/baselines.py --render-only   # docs/BASELINES.md again from bench/results/*.json

Each evaluation is a full `ProcessSandbox().run(job)` with the task's default parameters at
the fidelity listed in FIDELITY; embeddings come from one content-addressed cache built
before the runs. LoCoMo is also run at an unbounded token budget for the seeds that have a
top-k knob, to compare with the published top-10 evidence recall. The latest runs of
bench/eval_speed.py and bench/gaming.py (their JSON under bench/results/) are shown beside
the tables.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baselines_report import render  # noqa: E402
from design_space.seeds import seed_names, seed_source, seed_summary  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.embed_cache import build  # noqa: E402
from sandboxes.job import Job, Limits  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402
from sandboxes.tasks.params import data_root  # noqa: E402

TASKS = ("locomo", "longmemeval", "babi", "synthetic")
# bAbI at its stratified subset (200 questions over the 20 tasks): the full test files are
# 6,267 stories, each a fresh program instance, which costs minutes per seed.
FIDELITY = {"locomo": "full", "longmemeval": "full", "babi": "subset", "synthetic": "full"}
REFERENCE = {"locomo": {"budget_tokens": 100_000}}  # top-k alone decides what is returned
REFERENCE_SEEDS = ("bm25_rag", "dense_rag", "hybrid_rrf")
DATA = {"locomo": "locomo/locomo10.json", "longmemeval": "longmemeval/longmemeval_oracle_reassembled.json.gz",
        "babi": "babi/tasks_1-20_v1-2/en"}


def data_version(task: str) -> str:
    if task not in DATA:
        return "generated (seed 0)"
    path = data_root() / DATA[task]
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    h = hashlib.sha256()
    size = 0
    for f in files:
        data = f.read_bytes()
        h.update(data)
        size += len(data)
    plural = "s" if len(files) > 1 else ""
    return f"{DATA[task]} ({len(files)} file{plural}, {size / 1e6:.1f} MB, sha256 {h.hexdigest()[:12]})"


def run_one(seed: str, task: str, params: dict, embedder: str, cache: str, wall: float) -> dict:
    job = Job(program=seed_source(seed), task=task, task_params=params, fidelity=FIDELITY[task],
              limits=Limits(wall_seconds=wall, cpu_seconds=int(wall * 2)), embedder=embedder, embed_cache=cache,
              job_id=f"{seed}/{task}")
    t0 = time.perf_counter()
    r = ProcessSandbox().run(job)
    return {"seed": seed, "task": task, "params": params, "embedder": embedder, "fidelity": FIDELITY[task],
            "status": r.status,
            "error": r.error.strip().splitlines()[-1][:300] if r.error else "",  # the exception, not the stack
            "wall_s": time.perf_counter() - t0, "metrics": r.metrics,
            "per_category": r.per_category}


_SECTION = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", re.S)


def write_page(path: Path, text: str) -> None:
    """Write the page, carrying over the marked sections other benches own (bench/seed_embedders.py)."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    kept = [m.group(0) for m in _SECTION.finditer(old)]
    path.write_text(text.rstrip("\n") + "".join(f"\n\n{k}" for k in kept) + "\n", encoding="utf-8")


def side_results(meta: dict, out: Path) -> dict:
    """The latest bench/eval_speed.py and bench/gaming.py runs, shown beside the tables."""
    for key, name in (("speed", "eval_speed.json"), ("gaming", "gaming.json")):
        path = out / name
        if path.is_file():
            meta[key] = json.loads(path.read_text())
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="", help="comma-separated (default: every seed)")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--embedder", default="static", help="embedder of the main tables")
    ap.add_argument("--reference-embedder", default="minilm", help="embedder of the LoCoMo top-10 reference rows")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--wall", type=float, default=600.0, help="wall-clock limit per evaluation, seconds")
    ap.add_argument("--out", default=str(ROOT / "docs" / "BASELINES.md"))
    ap.add_argument("--variants", default="speaker",
                    help="event text forms to pre-embed (text,speaker,speaker_date); the seeds embed 'speaker'")
    ap.add_argument("--cache", default=str(ROOT / "bench" / "results" / "embed-cache"),
                    help="embedding cache directory (content-addressed: reused across runs)")
    ap.add_argument("--render-only", action="store_true",
                    help="only write --out again from bench/results/baselines.json and the side results")
    args = ap.parse_args()
    out = ROOT / "bench" / "results"
    if args.render_only:
        saved = json.loads((out / "baselines.json").read_text())
        write_page(Path(args.out), render(side_results(saved["meta"], out), saved["rows"]))
        print(f"wrote {args.out}")
        return
    seeds = [s for s in args.seeds.split(",") if s] or seed_names()
    tasks = [t for t in args.tasks.split(",") if t]
    root = os.path.abspath(args.cache)
    cache_info = {}
    variants = args.variants.split(",")
    for task in tasks:
        stream = get_task(task).build({}, FIDELITY[task], 0)
        embedders = [args.embedder] + ([args.reference_embedder] if task in REFERENCE else [])
        for emb in dict.fromkeys(embedders):
            info = cache_info[f"{task}/{emb}"] = build(stream.episodes, emb, root, variants=variants)
            print(f"cache {task} {emb}: {int(info['computed'])} texts embedded in {info['seconds']:.1f} s", flush=True)
    plan = [(s, t, {}, args.embedder) for t in tasks for s in seeds]
    plan += [(s, t, p, args.reference_embedder) for t, p in REFERENCE.items() if t in tasks for s in seeds
             if s in REFERENCE_SEEDS]
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, s, t, p, e, root, args.wall) for s, t, p, e in plan]
        for f in futures:
            row = f.result()
            rows.append(row)
            m = row["metrics"]
            print(f"{row['seed']:<18} {row['task']:<12} {json.dumps(row['params']):<26} {row['status']:<8} "
                  f"recall {m.get('recall', float('nan')):.3f}  wall {row['wall_s']:.1f} s {row['error'][:80]}",
                  flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
            "command": "python bench/baselines.py " + " ".join(sys.argv[1:]), "embedder": args.embedder,
            "reference_embedder": args.reference_embedder,
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
            "data": {t: data_version(t) for t in tasks}, "fidelity": {t: FIDELITY[t] for t in tasks},
            "summaries": {s: seed_summary(s) for s in seeds}, "cache": cache_info}
    out.mkdir(parents=True, exist_ok=True)
    meta = side_results(meta, out)
    (out / "baselines.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    write_page(Path(args.out), render(meta, rows))
    print(f"wrote {args.out} and {out / 'baselines.json'}")


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"baselines: {exc}")
