"""Every seed on every task under two embedders (hashing and static): one table per task, side by side.

    python bench/seed_embedders.py [--seeds a,b] [--tasks longmemeval,babi,locomo,synthetic]
                                   [--embedders hashing,static] [--jobs 1] [--doc docs/BASELINES.md]

Runs exactly what `bench/baselines.py` runs for one row (a full `ProcessSandbox().run(job)` at the
task's fidelity there, embeddings from the content-addressed cache) for each embedder, writes
bench/results/seed_embedders.json after every row (a cut-short run keeps what it measured), and
puts the tables into the section of --doc between the markers below, leaving the rest of the
page alone. The scoring rule in force is named by the last commit that touched sandboxes/scoring.py or
sandboxes/evidence.py (the evidence-credit rule lives in the latter).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baselines import FIDELITY, TASKS, data_version, run_one  # noqa: E402
from design_space.seeds import seed_names  # noqa: E402
from sandboxes.embed_cache import build  # noqa: E402
from sandboxes.evidence import FLOOR  # noqa: E402
from sandboxes.tasks import TaskError, get_task  # noqa: E402

START = "<!-- seed-embedders:start -->"
END = "<!-- seed-embedders:end -->"
RULE_FILES = ("sandboxes/scoring.py", "sandboxes/evidence.py")  # the metrics and the evidence-credit rule they use
TITLES = {"locomo": "LoCoMo", "longmemeval": "LongMemEval (oracle)", "babi": "bAbI (20 tasks, subset)",
          "synthetic": "Synthetic conversations"}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def cell(row: dict | None, key: str) -> str:
    if row is None:
        return "not run"
    if row["status"] != "ok":
        return row["status"]
    value = row["metrics"].get(key)
    return "-" if value is None else f"{value:.3f}"


def subject(text: str, limit: int = 120) -> str:
    """A commit subject cut on a word boundary (a cut mid-number reads as a different number)."""
    return text if len(text) < limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def render(meta: dict, rows: list[dict]) -> str:
    embedders = meta["embedders"]
    out = [START, "## Seeds re-measured: hashing vs static embedder", "",
           "Written by `bench/seed_embedders.py` (not by `bench/baselines.py`, whose tables are above): every seed",
           "on each task with the dependency-free hashing embedder and with the static model distilled from",
           "MiniLM, after the seeds' mechanisms were made to decide what they return (Titans' bounded neural",
           "memory, MemoryBank's retention in the ranking, HippoRAG's phrase graph with synonym edges).",
           "Recall is evidence recall within the token budget under the scoring rule of the commit named below",
           "(evidence credit: the idf-weighted share of a cited event's content words an item shows, nothing below",
           f"{FLOOR}; sandboxes/evidence.py, docs/TASKS.md Metrics);",
           "`session` is gold-session recall. A seed missing from a table, or a cell `not run`, was not measured",
           "in these runs (the static LoCoMo and synthetic rows of every seed are also in the tables above).", "",
           f"- Command: `{meta['command']}`",
           f"- Date: {meta['date']}, code at commit `{meta['commit']}`, {meta['machine']}",
           f"- Scoring rule: `sandboxes/scoring.py` and `sandboxes/evidence.py` as of commit `{meta['scoring_commit']}` "
           f"({subject(meta['scoring_subject'])})", ""]
    by = {(r["seed"], r["task"], r["embedder"]): r for r in rows}
    for task in meta["tasks"]:
        seeds = [s for s in meta["seeds"] if any((s, task, e) in by for e in embedders)]
        if not seeds:
            continue
        out += [f"### {TITLES.get(task, task)}", "", f"Data: {meta['data'][task]}, fidelity {FIDELITY[task]}.", ""]
        head = ["seed"] + [f"recall ({e})" for e in embedders] + [f"session ({e})" for e in embedders]
        head += [f"nDCG ({e})" for e in embedders] + [f"wall s ({e})" for e in embedders]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        first = embedders[-1]

        def key(s: str) -> float:
            r = by.get((s, task, first))
            return -(r["metrics"].get("recall", 0.0) if r and r["status"] == "ok" else -1.0)

        for s in sorted(seeds, key=key):
            rs = [by.get((s, task, e)) for e in embedders]
            cells = [cell(r, "recall") for r in rs] + [cell(r, "session_recall") for r in rs]
            cells += [cell(r, "ndcg") for r in rs]
            cells += [f"{r['wall_s']:.1f}" if r else "-" for r in rs]
            out.append(f"| {s} | " + " | ".join(cells) + " |")
        out.append("")
    out.append(END)
    return "\n".join(out)


def write_doc(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="", help="comma-separated (default: every seed)")
    ap.add_argument("--tasks", default="longmemeval,babi,locomo,synthetic")
    ap.add_argument("--embedders", default="hashing,static")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--wall", type=float, default=600.0, help="wall-clock limit per evaluation, seconds")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "BASELINES.md"))
    ap.add_argument("--cache", default=str(ROOT / "bench" / "results" / "embed-cache"))
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "seed_embedders.json"),
                    help="rows written here after each run; several files may be given to --render-only")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the section of --doc from the --json file(s) (comma-separated), run nothing")
    args = ap.parse_args()
    if args.render_only:
        saved = [json.loads(Path(p).read_text()) for p in args.json.split(",")]
        meta = dict(saved[0]["meta"])
        for extra in saved[1:]:
            meta["tasks"] = list(dict.fromkeys(meta["tasks"] + extra["meta"]["tasks"]))
            meta["data"] = {**meta["data"], **extra["meta"]["data"]}
            meta["command"] += f"` and `{extra['meta']['command']}"
            if extra["meta"]["commit"] not in meta["commit"].split("`, `"):  # one run may span commits
                meta["commit"] += f"`, `{extra['meta']['commit']}"
        dates = sorted(s["meta"]["date"] for s in saved)
        if dates[0] != dates[-1]:
            meta["date"] = f"{dates[0]} to {dates[-1]}"
        write_doc(Path(args.doc), render(meta, [r for s in saved for r in s["rows"]]))
        return
    out = Path(args.json)
    seeds = [s for s in args.seeds.split(",") if s] or seed_names()
    tasks = [t for t in args.tasks.split(",") if t]
    embedders = [e for e in args.embedders.split(",") if e]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        sys.exit(f"unknown task(s) {', '.join(unknown)} (known: {', '.join(TASKS)})")
    root = os.path.abspath(args.cache)
    for task in tasks:
        stream = get_task(task).build({}, FIDELITY[task], 0)
        for emb in embedders:
            info = build(stream.episodes, emb, root, variants=["speaker"])
            print(f"cache {task} {emb}: {int(info['computed'])} texts embedded in {info['seconds']:.1f} s", flush=True)
    meta = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git("rev-parse", "--short", "HEAD"),
            "scoring_commit": git("log", "-1", "--format=%h", "--", *RULE_FILES),
            "scoring_subject": git("log", "-1", "--format=%s", "--", *RULE_FILES)[:120],
            "command": "python bench/seed_embedders.py " + " ".join(sys.argv[1:]),
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
            "tasks": tasks, "seeds": seeds, "embedders": embedders, "data": {t: data_version(t) for t in tasks}}
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []

    plan = [(s, t, e) for t in tasks for e in embedders for s in seeds]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, s, t, {}, e, root, args.wall) for s, t, e in plan]
        for f in futures:
            row = f.result()
            rows.append(row)
            m = row["metrics"]
            print(f"{row['seed']:<18} {row['task']:<12} {row['embedder']:<8} {row['status']:<8} "
                  f"recall {m.get('recall', float('nan')):.3f}  wall {row['wall_s']:.1f} s {row['error'][:80]}",
                  flush=True)
            out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
            write_doc(Path(args.doc), render(meta, rows))
    print(f"wrote {args.doc} and {out}")


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"seed_embedders: {exc}")
