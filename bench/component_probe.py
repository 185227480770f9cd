"""One catalogue component at a time: a pipeline seed with each component inserted at its
default knobs, measured in the process sandbox on one task — what each step does before any
search tunes it.

    python bench/component_probe.py [--task locomo] [--fidelity subset] [--seed bm25_rag] [--embedder hashing]
                                    [--with recency,...]

`--with` puts those steps into the base first (in that order, at their default knobs) and probes
every other component after them: what a step adds to a pipeline that already holds another (a
`chain` follows the first hit, so it needs `recency` to make that the latest statement).
Prints a table and writes bench/results/component_probe_<task>[_with-<steps>].json.
"""
from __future__ import annotations

import argparse
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
from evolve.operators.pipeline_edits import insert_at, present, slots  # noqa: E402
from sandboxes.backends.process import ProcessSandbox  # noqa: E402
from sandboxes.job import Job  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="locomo")
    ap.add_argument("--fidelity", default="subset")
    ap.add_argument("--seed", default="bm25_rag")
    ap.add_argument("--embedder", default="hashing")
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/component_probe_<task>[_with-<steps>].json)")
    ap.add_argument("--with", dest="steps", default="", help="catalogue steps in the base, comma-separated")
    args = ap.parse_args()
    steps = [c for c in args.steps.split(",") if c]
    bad = [c for c in steps if c not in COMPONENTS or COMPONENTS[c].slot == "index"]
    if bad:
        sys.exit(f"component_probe: --with {','.join(bad)}: not a catalogue step "
                 f"(known: {', '.join(c for c in COMPONENTS if COMPONENTS[c].slot != 'index')})")
    params = {"budget_tokens": args.budget} | ({} if args.task == "synthetic" else {"split": "search"})
    get_task(args.task).build(params, "smoke", 0)  # the data is there, or one line saying where
    base = seed_source(args.seed)
    placed = {slot: 0 for slot in slots(base)}  # base steps per slot: a probed step goes after them
    for name in steps:
        comp = COMPONENTS[name]
        if comp.slot not in placed:
            sys.exit(f"component_probe: --with {name}: {args.seed} has no {comp.slot} slot")
        if name in present(base).get(comp.slot, []):
            continue  # the seed holds it already
        base = insert_at(base, comp.slot, comp, placed[comp.slot])
        placed[comp.slot] += 1
    programs = {"(base)": base}
    programs |= {c.name: insert_at(base, c.slot, c, placed[c.slot]) for c in COMPONENTS.values()
                 if c.slot != "index" and c.slot in placed and c.name not in steps}
    rows = {}
    for name, code in programs.items():
        t0 = time.perf_counter()
        r = ProcessSandbox().run(Job(program=code, task=args.task, task_params=params, fidelity=args.fidelity,
                                     embedder=args.embedder))
        rows[name] = {"status": r.status, "recall": r.metrics.get("recall"), "tokens": r.metrics.get("tokens"),
                      "seconds": time.perf_counter() - t0}
    table = Table(title=f"{' + '.join([args.seed, *steps])} + one component, {args.task} {args.fidelity}, {args.embedder}")
    for col in ("component", "status", "recall", "tokens", "s"):
        table.add_column(col)
    for name, row in rows.items():
        table.add_row(name, row["status"], f"{row['recall'] or 0:.3f}", f"{row['tokens'] or 0:.0f}", f"{row['seconds']:.1f}")
    Console().print(table)
    out = Path(args.out) if args.out else \
        ROOT / "bench" / "results" / f"component_probe_{args.task}{'_with-' + '-'.join(steps) if steps else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "base": present(base), "load_average": os.getloadavg(),
                               "rows": rows}, indent=1))


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"component_probe: {exc}")
