"""How recall grows with the token budget: is a recall target within reach of the catalogue at all?

    python bench/recall_depth.py [--task locomo] [--budgets 256,512,1024,2048] [--splits search,test]
                                 [--components multihop,windows,temporal,entities,sessions,rerank] [--embedder static]
                                 [--knobs '{"TOKEN_SHARE": 1.0}'] [--out bench/results/recall_depth_<task>.json]

Measures the `bm25_rag` seed and one catalogue pipeline (stemmed BM25 plus `--components` at their
default knobs (or those `--knobs` sets), built by `compose`'s builder on the bm25_rag skeleton; the default is the steps
every top program of `bench/catalogue_ceiling.py` held before the `windows` step, plus `windows`) at each budget, with `TOP_K` scaled with
the budget (10 turns per 256 tokens), at full fidelity. When the pipeline needs twice the budget to
reach a recall, no reranking of what it finds gets there at the budget: what it misses is not in
its candidates. Each recall comes with its standard error over the split's scored questions
(± in the table, the third number of a row's split in the JSON). Prints a table and writes `--out` (default bench/results/recall_depth_<task>.json).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from design_space.catalogue import COMPONENTS  # noqa: E402
from design_space.seeds import seed_source  # noqa: E402
from evolve.operators.compose import build  # noqa: E402
from evolve.operators.knobs import read_knobs  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.job import Job, Limits  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402

TURNS_PER_256 = 10  # the seed's TOP_K at the default budget


def measure(code: str, split: str, budget: int, args: argparse.Namespace) -> tuple[float, float, float]:
    """(recall, tokens, the recall's standard error over the split's scored questions)."""
    r = ProcessSandbox().run(Job(program=code, task=args.task, fidelity="full", embedder=args.embedder,
                                 task_params={"split": split, "budget_tokens": budget},
                                 limits=Limits(wall_seconds=900, cpu_seconds=1800)))
    if r.status != "ok":
        raise SystemExit(f"{args.task} {split} at {budget} tokens: {r.status}: {(r.error or '')[:300]}")
    return r.metrics["recall"], r.metrics["tokens"], r.metrics.get("recall_se", 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="locomo", choices=["locomo", "longmemeval"])
    ap.add_argument("--budgets", default="256,512,1024,2048")
    ap.add_argument("--splits", default="search,test")
    ap.add_argument("--components", default="multihop,windows,temporal,entities,sessions,rerank")
    ap.add_argument("--knobs", default="{}", help='the pipeline\'s knobs as JSON, e.g. \'{"TOKEN_SHARE": 1.0}\' '
                                                    '(TOP_K is set by the budget)')
    ap.add_argument("--out", default=None, help="the JSON to write (default bench/results/recall_depth_<task>.json)")
    ap.add_argument("--embedder", default=None, help="default: static when memarch[embed] is installed")
    args = ap.parse_args()
    if args.embedder is None:
        args.embedder = "static" if importlib.util.find_spec("model2vec") else "hashing"
    used = [c for c in args.components.split(",") if c]
    unknown = [c for c in used if c not in COMPONENTS or COMPONENTS[c].slot == "index"]
    if unknown:
        raise SystemExit(f"--components: {', '.join(unknown)} not in the catalogue's steps")
    budgets = [int(b) for b in args.budgets.split(",")]
    try:
        knobs = json.loads(args.knobs)
    except ValueError as exc:
        raise SystemExit(f"--knobs: not JSON ({exc})")
    if not isinstance(knobs, dict) or not all(isinstance(v, (bool, int, float)) for v in knobs.values()):
        raise SystemExit('--knobs: a JSON object of numbers or booleans, e.g. {"TOKEN_SHARE": 1.0}')
    get_task(args.task).build({"split": "search"}, "smoke", 0)  # the data is there, or one line saying where
    splits = args.splits.split(",")
    skeleton = seed_source("bm25_rag")
    unknown = sorted(set(knobs) - {k.name for k in read_knobs(build(skeleton, "bm25", used, {}))})
    if unknown:
        raise SystemExit(f"--knobs: {', '.join(unknown)} not a knob of the pipeline (stemmed BM25; {', '.join(used)})")
    t0 = time.perf_counter()
    rows = []
    for budget in budgets:
        top_k = max(1, round(TURNS_PER_256 * budget / 256))
        programs = {"seed bm25_rag": build(skeleton, "bm25", [], {"TOP_K": top_k}),
                    "pipeline": build(skeleton, "bm25", used, {"INDEX_STEM": True, **knobs, "TOP_K": top_k})}
        for name, code in programs.items():
            row = {"program": name, "budget": budget, "top_k": top_k}
            for split in splits:
                row[split] = measure(code, split, budget, args)
            rows.append(row)
            Console(stderr=True).log(f"{name} at {budget}: {row}")
    seconds = time.perf_counter() - t0
    table = Table(title=f"{args.task}: recall by token budget (TOP_K {TURNS_PER_256} per 256 tokens), {args.embedder} "
                        f"embedder, {seconds:.0f} s")
    table.add_column("program")
    table.add_column("budget", justify="right")
    for split in splits:
        table.add_column(f"{split} recall", justify="right")
        table.add_column(f"{split} tokens", justify="right")
    for r in rows:
        table.add_row(r["program"], str(r["budget"]), *(f"{r[s][0]:.4f} ± {r[s][2]:.3f}" if i == 0 else f"{r[s][1]:.1f}"
                                                        for s in splits for i in (0, 1)))
    Console().print(table)
    print(f"pipeline: stemmed BM25; {' → '.join(used) or 'no steps'} "
          f"({'knobs ' + json.dumps(knobs) + ', the rest' if knobs else 'knobs'} at their defaults)")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"recall_depth_{args.task}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_average": os.getloadavg(), "seconds": seconds, "rows": rows},
                              indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"recall_depth: {exc}")
