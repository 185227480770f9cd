"""How far the catalogue reaches on a task at no more tokens than the best seed: an Optuna study
that sees the whole `search` split (not the campaign's subset) and one objective, then its best
programs on the held-out `test` split.

    python bench/catalogue_ceiling.py [--task locomo] [--trials 150] [--embedder static] [--top 5] [--cap 256]

The space is `compose`'s (evolve/operators/compose.py: index, which catalogue components are
used, their knobs, TOP_K) built on the bm25_rag skeleton. A trial scores its search-split recall
minus 0.01 per token above the cap, the tokens on the search split of the seed with the best
search-split recall (`bm25_rag` on LoCoMo, `dense_rag` on LongMemEval), or `--cap N` (e.g. the
budget, 256: how high recall goes within it); the test split is read only to report the top
programs and the seeds. It answers whether a held-out gain at no
more tokens than the seed exists in the design space at all, apart from how a campaign searches.
Prints a table and writes bench/results/<task>_ceiling.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from design_space.seeds import seed_source  # noqa: E402
from design_space.catalogue import COMPONENTS  # noqa: E402
from evolve.operators.compose import ask, build  # noqa: E402
from evolve.operators.pipeline_edits import present  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.job import Job  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402

SEEDS = ["bm25_rag", "dense_rag", "recency_window"]
PENALTY = 0.01  # recall per token over the cap


def measure(code: str, split: str, args: argparse.Namespace) -> tuple[float, float]:
    r = ProcessSandbox().run(Job(program=code, task=args.task, fidelity="full", embedder=args.embedder,
                                 task_params={"split": split, "budget_tokens": args.budget}))
    if r.status != "ok":
        return 0.0, float("inf")
    return r.metrics["recall"], r.metrics["tokens"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="locomo", choices=["locomo", "longmemeval"])
    ap.add_argument("--trials", type=int, default=150)
    ap.add_argument("--top", type=int, default=5, help="best trials measured on the test split")
    ap.add_argument("--budget", type=int, default=256, help="token budget per query")
    ap.add_argument("--embedder", default=None, help="default: static when memarch[embed] is installed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cap", type=float, default=None,
                    help="token cap of the penalty (default: the best seed's search-split tokens; "
                         "e.g. the budget, 256, to ask how high recall goes within it)")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/<task>_ceiling.json)")
    args = ap.parse_args()
    if args.embedder is None:
        args.embedder = "static" if importlib.util.find_spec("model2vec") else "hashing"
    get_task(args.task).build({"split": "search"}, "smoke", 0)  # the data is there, or one line saying where
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    t0 = time.perf_counter()
    seeds = {name: {"search": measure(seed_source(name), "search", args), "test": measure(seed_source(name), "test", args)}
             for name in SEEDS}
    reference = max(SEEDS, key=lambda n: (seeds[n]["search"][0], -seeds[n]["search"][1]))
    cap = seeds[reference]["search"][1] if args.cap is None else args.cap
    skeleton = seed_source("bm25_rag")
    codes: dict[int, str] = {}

    def objective(trial) -> float:
        code = build(skeleton, *ask(trial, skeleton))
        codes[trial.number] = code
        recall, tokens = measure(code, "search", args)
        trial.set_user_attr("search", [recall, tokens])
        return recall - PENALTY * max(0.0, tokens - cap)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
        seed=args.seed, multivariate=True, group=True, n_startup_trials=20))
    start = {"index": "dense", "TOP_K": 10} if reference == "dense_rag" else \
        {"index": "bm25", "TOP_K": 10, "INDEX_K1": 1.2, "INDEX_B": 0.75}
    study.enqueue_trial({**start, **{f"use:{c.name}": False for c in COMPONENTS.values() if c.slot != "index"}})  # the seed's point first
    study.optimize(objective, n_trials=args.trials, n_jobs=2)
    done = [t for t in study.trials if t.value is not None]
    best = sorted(done, key=lambda t: -t.value)[: args.top]
    rows = []
    for t in best:
        recall, tokens = measure(codes[t.number], "test", args)
        rows.append({"trial": t.number, "search": t.user_attrs["search"], "test": [recall, tokens],
                     "structure": present(codes[t.number]), "params": t.params})
    seconds = time.perf_counter() - t0

    ref = seeds[reference]["test"]
    whose = f"{reference}'s" if args.cap is None else "--cap"
    table = Table(title=f"{args.task} ceiling at ≤ {cap:.1f} search tokens ({whose}): {args.trials} trials, {args.embedder} "
                        f"embedder, {seconds:.0f} s")
    for col in ("program", "search recall", "search tokens", "test recall", "test tokens", "test gain at ≤ seed tokens"):
        table.add_column(col, justify="right" if col != "program" else "left")
    for name, m in seeds.items():
        table.add_row(f"seed {name}", f"{m['search'][0]:.4f}", f"{m['search'][1]:.1f}", f"{m['test'][0]:.4f}",
                      f"{m['test'][1]:.1f}", "-")
    for r in rows:
        gain = f"{r['test'][0] - ref[0]:+.4f}" if r["test"][1] <= ref[1] else "more tokens"
        table.add_row(f"trial {r['trial']}", f"{r['search'][0]:.4f}", f"{r['search'][1]:.1f}",
                      f"{r['test'][0]:.4f}", f"{r['test'][1]:.1f}", gain)
    console = Console()
    console.print(table)
    for r in rows:
        shape = "; ".join(f"{s}: {' → '.join(v)}" for s, v in r["structure"].items() if v)
        console.print(f"  trial {r['trial']}: {shape}")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"{args.task}_ceiling.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_average": os.getloadavg(), "seconds": seconds, "reference": reference, "cap": cap,
                               "seeds": seeds, "top": rows}, indent=1))
    console.print(f"wrote {out}")


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"catalogue_ceiling: {exc}")
