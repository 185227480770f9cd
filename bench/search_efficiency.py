"""Search efficiency: hypervolume against evaluations for memarch's offline operators, random
sampling of the design space, and Optuna alone — same task, same budget, several seeds — and
the evolved front against the best seed on the held-out split.

    python bench/search_efficiency.py [--task locomo|longmemeval|babi] [--budget 256] [--evaluations 200] [--repeats 3] [--first-repeat 0] [--embedder static]
                                      [--holdout-fidelity full] [--cascade smoke,subset] [--methods memarch,random,optuna]

memarch's default offline mix is structural edits (knobs, index swap, insert / replace / remove a
catalogue component), `compose` (structure and knobs in one Optuna study, opening with a screen of each
catalogue step alone at 200 evaluations, then of every other step beside the best: `screen: auto`,
`screen_rounds: 2`), `graft` (one slot of
another front member), `tune` and `match` (fits a program that beats a seed to that seed's tokens,
with its `share` step); "optuna" is `tune` alone over the seeds' knobs, "random"
samples seeds with random edits and knobs. The held-out gain is, per repeat, the best evolved
recall at no more tokens than the best seed, minus the seed's — picked among the front with the
held-out numbers, so it is the front's best case; the program a user would pick without looking
at the test data (the best search-split recall at no more search-split tokens than the best seed:
what `memarch export RUN --within tokens=SEED` writes, among evolved programs) is reported beside it, its held-out gain marked `*` when it spends more held-out tokens than the
seed. The winning structures (components per slot) and knobs are printed, and the JSON keeps each
winner's code.

Objectives: evidence recall within the token budget (max) and tokens returned (min). The
search sees the `search` split at `subset` fidelity (`--cascade smoke,subset,full` measures the
subset's survivors on the whole search split and builds the front there); the front and the seeds are then measured
on the `test` split at full fidelity (`task.holdout_fidelity`; `--holdout-fidelity subset` measures
200 of the test questions; before 2026-12-03 the LoCoMo subset held the questions of 2 conversations
only, and every run before 2026-12-02 15:28 held out just those). Hypervolume uses the reference point every campaign fixes
from its task and objectives (recall 0, tokens = the budget: the same for every method, and the
one `memarch status` / `front` / `report` show), so the numbers compare. Prints a table and
writes bench/results/search_efficiency_<task>.json (`--out`), after every finished repeat.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from evolve.campaign import Campaign  # noqa: E402
from evolve.choose import Bound, choose  # noqa: E402
from evolve.config import ConfigError, parse_config  # noqa: E402
from evolve.pareto import dominates, hypervolume, orient  # noqa: E402
from evolve.operators.knobs import read_knobs  # noqa: E402
from evolve.operators.pipeline_edits import present  # noqa: E402
from evolve.reference import campaign_reference  # noqa: E402
from sandboxes.tasks import TaskError  # noqa: E402

METHODS = {
    "memarch": [{"name": "structural", "weight": 1.0}, {"name": "compose", "weight": 2.0},
                {"name": "graft", "weight": 0.5}, {"name": "tune", "weight": 1.0}, {"name": "match", "weight": 0.5}],
    "random": [{"name": "random", "weight": 1.0}],
    "optuna": [{"name": "tune", "weight": 1.0}],
}
# variants, run only when named in --methods: memarch's mix with `trim` (measured over ten repeats: lower
# held-out gains — docs/BENCHMARKS.md), without `match` (the mix before 2026-12-07: 8 of 9 LoCoMo repeats
# above +0.05 held-out, against 9 of 9 with it), without `compose`'s screen (on by default from 100
# evaluations: each catalogue step alone first), with its first round only (the screen before 2026-12-07 12:00),
# without the knob trials of the screen's best structure (the screen before 2026-12-07 18:00), and with a
# pruned screen of five rounds (later rounds offer only the steps that beat the skeleton alone)
ABLATIONS = {"memarch+trim": [*METHODS["memarch"], {"name": "trim", "weight": 0.5}],
             "memarch-match": [op for op in METHODS["memarch"] if op["name"] != "match"],
             "memarch-screen": [{**op, "params": {"screen": False}} if op["name"] == "compose" else op
                                for op in METHODS["memarch"]],
             "memarch-round2": [{**op, "params": {"screen_rounds": 1}} if op["name"] == "compose" else op
                                for op in METHODS["memarch"]],
             "memarch-knobs": [{**op, "params": {"screen_knobs": 0}} if op["name"] == "compose" else op
                               for op in METHODS["memarch"]],
             "memarch+pruned": [{**op, "params": {"screen_rounds": 5, "screen_prune": True}} if op["name"] == "compose"
                                else op for op in METHODS["memarch"]]}
OBJECTIVES = [("recall", "max"), ("tokens", "min")]
SEEDS = ["bm25_rag", "dense_rag", "recency_window"]


def config(method: str, repeat: int, args: argparse.Namespace) -> dict:
    params = {"split": "search", "budget_tokens": args.budget}
    if args.task == "synthetic":
        params = {"budget_tokens": args.budget, "conversations": 6}
    cfg = {
        "name": f"{method.replace('+', '-')}-{repeat}", "seed": repeat,
        "task": {"name": args.task, "params": params, "cascade": args.cascade.split(","), "embedder": args.embedder},
        "seeds": SEEDS, "operators": {**METHODS, **ABLATIONS}[method],
        "objectives": [{"metric": m, "direction": d} for m, d in OBJECTIVES],
        "budget": {"evaluations": args.evaluations}, "parallel": args.parallel,
        "sandbox": {"limits": {"wall_seconds": 300, "cpu_seconds": 600}},
    }
    if args.task != "synthetic":
        cfg["task"]["holdout"] = {"split": "test"}
        cfg["task"]["holdout_fidelity"] = args.holdout_fidelity
    return cfg


def curve(store, reference: tuple[float, float], stage: str) -> list[float]:
    """Hypervolume of the archive after each candidate, in creation order."""
    points, out = [], []
    for cand in store.candidates():
        ev = store.evaluation(cand.id, stage)
        if ev is not None and ev.status == "ok":
            points.append(orient([ev.metrics[m] for m, _ in OBJECTIVES], [d for _, d in OBJECTIVES]))
        out.append(hypervolume(points, reference))
    return out


def holdout(store, stage: str) -> dict:
    """Best-recall seed vs. evolved front members, all measured on the held-out split.

    `winner` is picked with the held-out numbers (the best held-out recall at no more held-out
    tokens than the seed), so it is the front's best case; `chosen` is picked without them (the
    best `stage` recall at no more `stage` tokens than the seed, on the search split) and only
    then read on the held-out split: what a user who never looks at the test data would ship."""
    rows, codes, searched, failed = {}, {}, {}, []
    for cand in store.candidates():
        ev = store.evaluation(cand.id, "holdout")
        if ev is not None and ev.status != "ok":
            failed.append([cand.id, cand.operator, ev.status, (ev.error or "")[:300]])
        if ev is not None and ev.status == "ok":
            rows[cand.id] = (cand.operator, ev.metrics["recall"], ev.metrics["tokens"])
            codes[cand.id] = cand.code
            found = store.evaluation(cand.id, stage)
            if found is not None and found.status == "ok":
                searched[cand.id] = (found.metrics["recall"], found.metrics["tokens"])
    seeds = {c: r for c, r in rows.items() if r[0].startswith("seed:")}
    evolved = {c: r for c, r in rows.items() if not r[0].startswith("seed:")}
    if not seeds:
        return {}
    # The picks are `memarch export --within`'s rule (evolve/choose.py) on held-out or search numbers.
    held = {c: {"recall": r[1], "tokens": r[2]} for c, r in rows.items()}
    search = {c: {"recall": r[0], "tokens": r[1]} for c, r in searched.items()}
    best_seed = choose(held, OBJECTIVES, [], among=list(seeds))
    s = orient([seeds[best_seed][1], seeds[best_seed][2]], ["max", "min"])
    dominating = [c for c, r in evolved.items() if dominates(orient([r[1], r[2]], ["max", "min"]), s)]
    best = choose(held, OBJECTIVES, [], among=list(evolved))
    winner = choose(held, OBJECTIVES, [Bound("tokens", seeds[best_seed][2], "min", best_seed)], among=list(evolved))
    seed_search = choose(search, OBJECTIVES, [], among=list(seeds))
    chosen = choose(search, OBJECTIVES, [Bound("tokens", searched[seed_search][1], "min", seed_search)],
                    among=list(evolved)) if seed_search else None
    return {"best_seed": [best_seed, seeds[best_seed][0], seeds[best_seed][1], seeds[best_seed][2]],
            "best_evolved": [best, *evolved[best]] if best else None,
            "dominating_best_seed": sorted(dominating),
            "gain_at_no_more_tokens": (evolved[winner][1] - seeds[best_seed][1]) if winner else None,
            "winner": [winner, *evolved[winner]] if winner else None,
            "winner_structure": present(codes[winner]) if winner else None,
            "winner_knobs": {k.name: k.value for k in read_knobs(codes[winner])} if winner else None,
            "winner_code": codes[winner] if winner else None,
            # [id, operator, held-out recall, held-out tokens, search recall, search tokens]
            "chosen_on_search": [chosen, *evolved[chosen], *searched[chosen]] if chosen else None,
            "chosen_gain": (evolved[chosen][1] - seeds[best_seed][1]) if chosen else None,
            "chosen_over_seed_tokens": (evolved[chosen][2] - seeds[best_seed][2]) if chosen else None,
            "chosen_structure": present(codes[chosen]) if chosen else None,
            "failed": failed,  # held-out evaluations that did not finish (status, error)
            # every measured program: [id, operator, held-out recall, held-out tokens, search recall, search tokens]
            "measured": [[c, *rows[c], *searched.get(c, (None, None))] for c in sorted(rows)]}


def _chosen_cell(h: dict) -> str:
    """The search-chosen program's held-out gain; `*` when it spends more held-out tokens than the seed."""
    if h.get("chosen_gain") is None:
        return "-"
    return f"{h['chosen_gain']:+.3f}" + ("*" if h["chosen_over_seed_tokens"] > 0 else "")


def save(out: Path, args: argparse.Namespace, reference: tuple[float, ...], results: dict[str, list[dict]],
         complete: bool) -> None:
    """Write the JSON atomically; `complete` is false while repeats are still to run."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps({"task": args.task, "evaluations": args.evaluations, "repeats": args.repeats,
                               "first_repeat": args.first_repeat, "complete": complete, "embedder": args.embedder,
                               "cascade": args.cascade.split(","), "load_average": os.getloadavg(),
                               "budget_tokens": args.budget, "reference": reference, "results": results}, indent=1))
    tmp.replace(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="locomo", choices=["locomo", "longmemeval", "babi", "synthetic"])
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--first-repeat", type=int, default=0,
                    help="seed of the first repeat (split a long run: --repeats 7 --first-repeat 3 continues a default run)")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--budget", type=int, default=256, help="token budget per query")
    ap.add_argument("--holdout-fidelity", default="full", choices=["subset", "full"],
                    help="how much of the test split the seeds and the front are measured on")
    ap.add_argument("--embedder", default=None, help="default: static when memarch[embed] is installed, else hashing")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"any of {', '.join([*METHODS, *ABLATIONS])}")
    ap.add_argument("--cascade", default="smoke,subset",
                    help="the search's stages; the last builds the front and the hypervolume curve "
                         "(smoke,subset,full: survivors of the subset are measured on the whole search split)")
    ap.add_argument("--out", default=None, help="JSON path (default bench/results/search_efficiency_<task>.json)")
    args = ap.parse_args()
    unknown = [m for m in args.methods.split(",") if m not in {**METHODS, **ABLATIONS}]
    if unknown:
        ap.error(f"--methods: unknown {', '.join(unknown)} (known: {', '.join([*METHODS, *ABLATIONS])})")
    if args.embedder is None:
        args.embedder = "static" if args.task != "synthetic" and importlib.util.find_spec("model2vec") else "hashing"
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"search_efficiency_{args.task}.json"
    import ray

    ray.init(address="local", num_cpus=args.parallel, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=128 * 2**20)
    reference: tuple[float, ...] = ()
    results: dict[str, list[dict]] = {}
    console = Console()
    with tempfile.TemporaryDirectory(prefix="memarch-bench-") as tmp:
        for method in args.methods.split(","):
            for repeat in range(args.first_repeat, args.first_repeat + args.repeats):
                t0 = time.perf_counter()
                campaign = Campaign.create(parse_config(config(method, repeat, args)), Path(tmp))
                campaign.run()
                reference = campaign_reference(campaign.store, campaign.config)
                hv = curve(campaign.store, reference, campaign.config.task.cascade[-1])
                row = {"repeat": repeat, "hv": hv, "wall_s": time.perf_counter() - t0,
                       "holdout": holdout(campaign.store, campaign.config.task.cascade[-1])
                       if args.task != "synthetic" else {}}
                results.setdefault(method, []).append(row)
                save(out, args, reference, results, complete=False)  # a later failure loses no finished repeat
                console.log(f"{method} #{repeat}: HV {hv[-1]:.3f} after {len(hv)} candidates "
                            f"({row['wall_s']:.0f} s)")
                campaign.store.close()
    ray.shutdown()
    marks = sorted({min(m, args.evaluations) for m in (10, 20, args.evaluations)})
    table = Table(title=f"hypervolume vs. candidates on {args.task} (median of {args.repeats} seeds; "
                        f"reference recall=0, tokens={args.budget}; front at {args.cascade.split(',')[-1]})")
    table.add_column("method")
    for m in marks:
        table.add_column(f"HV@{m}", justify="right")
    table.add_column("held-out: evolved dominates best seed", justify="right")
    table.add_column("held-out recall gain at ≤ seed tokens (per repeat)", justify="right")
    table.add_column("gain of the program chosen on the search split (per repeat)", justify="right")
    for method, rows in results.items():
        cells = [f"{statistics.median(r['hv'][min(m, len(r['hv'])) - 1] for r in rows):.4f}" for m in marks]
        wins = sum(bool(r["holdout"].get("dominating_best_seed")) for r in rows if r["holdout"])
        gains = " ".join("-" if r["holdout"].get("gain_at_no_more_tokens") is None else
                         f"{r['holdout']['gain_at_no_more_tokens']:+.3f}" for r in rows if r["holdout"])
        chosen = " ".join(_chosen_cell(r["holdout"]) for r in rows if r["holdout"])
        table.add_row(method, *cells, f"{wins}/{len(rows)}" if args.task != "synthetic" else "-", gains or "-",
                      chosen or "-")
    console.print(table)
    for method, rows in results.items():
        for r in rows:
            if r["holdout"]:
                console.print(f"{method} #{r['repeat']} held-out: best seed {r['holdout']['best_seed']}, "
                              f"best evolved {r['holdout']['best_evolved']}, "
                              f"dominating: {r['holdout']['dominating_best_seed'][:5]}")
                console.print(f"    winner at ≤ seed tokens {r['holdout'].get('winner')}: "
                              f"{r['holdout'].get('winner_structure')}")
                knobs = r["holdout"].get("winner_knobs") or {}
                console.print("    its knobs: " + ", ".join(f"{k}={v}" for k, v in knobs.items()))
                if r["holdout"].get("failed"):
                    console.print(f"    held-out evaluations that failed: {r['holdout']['failed']}")
                console.print(f"    chosen on the search split {r['holdout'].get('chosen_on_search')}: "
                              f"{r['holdout'].get('chosen_structure')}")
    save(out, args, reference, results, complete=True)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    try:
        main()
    except (ConfigError, TaskError) as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"search_efficiency: {exc}")
