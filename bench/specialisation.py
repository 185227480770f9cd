"""Proof of specialisation: the winners of two campaigns differ in structure and each wins at home.

Given the run directories of a LoCoMo and a BANKING77 campaign, takes each campaign's
winner (the front member best on its first objective), prints what it is made of (seed
ancestor, design_space components imported per stage, knobs, the edits that led to it),
writes its code to ``<run>/winner-<id>.py``, then evaluates both winners on both tasks — on each campaign's own final stage and on the
held-out test split (HOLDOUT) — in the process sandbox. Writes JSON.

    python -m bench.specialisation /tmp/spec/locomo-spec /tmp/spec/banking77-spec
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from evolve.operators.knobs import read_knobs
from evolve.store import Store, StoreError
from evolve.views import stored_config
from sandboxes.backends import get_sandbox
from sandboxes.job import Job, Limits

# the held-out measurement per task: params and fidelity (BANKING77 test at subset fidelity — 770
# test queries over 3,080 warm examples — because a BM25 program that re-indexes per query needs
# ~25 min for the full 3,080-query stream; the full-stream numbers are in bench/experience_seeds.py)
HOLDOUT = {"locomo": ({"split": "test"}, "full"), "banking77": ({"split": "test"}, "subset")}


def winner(store: Store) -> tuple[str, str, str]:
    """(candidate id, its code, the metric it won on): best first objective at the final stage."""
    cfg = stored_config(store)
    metric, direction = cfg.objectives[0].metric, cfg.objectives[0].direction
    final = cfg.task.cascade[-1]
    scored = [(e.metrics[metric], e.candidate_id) for e in store.evaluations(final) if e.status == "ok" and metric in e.metrics]
    best = (max if direction == "max" else min)(scored)[1]
    return best, store.candidate(best).code, metric


def structure(store: Store, cid: str, code: str) -> dict:
    stages: dict[str, list[str]] = defaultdict(list)
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("design_space.components."):
            stage = node.module.split(".")[2]
            stages[stage] += [f"{node.module.split('.')[3]}.{a.name}" for a in node.names]
    path, cur = [], cid
    while True:
        c = store.candidate(cur)
        if c.operator.startswith("seed:"):
            seed = c.operator.removeprefix("seed:")
            break
        path.append(f"{c.operator}: {c.note[:90]}")
        cur = c.parents[0]
    classes = [n.name for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ClassDef)]
    return {"candidate": cid, "seed": seed, "components": dict(stages), "classes": classes,
            "knobs": {k.name: k.value for k in read_knobs(code)}, "edits": list(reversed(path))}


def measure(code: str, task: str, params: dict, fidelity: str, seed: int) -> dict:
    job = Job(program=code, task=task, task_params=params, fidelity=fidelity, seed=seed,
              limits=Limits(wall_seconds=900, cpu_seconds=900))
    t0 = time.perf_counter()
    r = get_sandbox("process").run(job)
    keys = ("recall", "recall_all", "tokens", "accuracy", "accuracy_last", "memory_kb", "records", "latency_ms")
    return {"status": r.status, "error": r.error[-200:], "seconds": round(time.perf_counter() - t0, 1),
            **{k: round(r.metrics[k], 4) for k in keys if k in r.metrics}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs=2, metavar="RUN", help="run directories of a LoCoMo and a BANKING77 campaign")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "specialisation.json"))
    args = ap.parse_args()
    runs = {}
    for d in args.runs:
        store = Store.open(Path(d))
        cfg = stored_config(store)
        cid, code, metric = winner(store)
        (Path(d) / f"winner-{cid}.py").write_text(code)
        runs[cfg.task.name] = {"run": d, "config": cfg, "winner": cid, "code": code, "metric": metric,
                               "structure": structure(store, cid, code)}
    out = {"structure": {t: r["structure"] for t, r in runs.items()}, "cross": []}
    for home, r in runs.items():
        s = r["structure"]
        print(f"\n## {home} winner {s['candidate']} (from seed {s['seed']})")
        print("components:", json.dumps(s["components"]))
        print("knobs:", json.dumps(s["knobs"]))
        for e in s["edits"]:
            print("  edit:", e)
    print("\n| program | task | params | fidelity | metrics |")
    print("|---|---|---|---|---|")
    for home, r in runs.items():
        for task, t in runs.items():
            cfg = t["config"]
            held, held_fid = HOLDOUT.get(task, ({}, "full"))
            for params, fid in ((dict(cfg.task.params), cfg.task.cascade[-1]), ({**cfg.task.params, **held}, held_fid)):
                m = measure(r["code"], task, params, fid, cfg.seed)
                out["cross"].append({"winner_of": home, "task": task, "params": params, "fidelity": fid, **m})
                print(f"| {home} winner {r['winner']} | {task} | {json.dumps(params)} | {fid} | {json.dumps(m)} |",
                      flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except StoreError as exc:  # not a run directory: one line, no stack
        sys.exit(f"specialisation: {exc}")
