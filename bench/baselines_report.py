"""Render the baselines JSON (bench/baselines.py) as docs/BASELINES.md: per-task and per-category tables."""
from __future__ import annotations

from typing import Any

TITLES = {"locomo": "LoCoMo", "longmemeval": "LongMemEval (oracle)", "babi": "bAbI (20 tasks)",
          "synthetic": "Synthetic conversations"}
COLUMNS = [("recall", "recall", 3), ("recall_all", "all", 3), ("session_recall", "session", 3),
           ("ndcg", "nDCG", 3), ("mrr", "MRR", 3), ("abstain_empty", "abstain", 2), ("tokens", "tokens", 0),
           ("retrieve_ms_p50", "ret p50 ms", 2), ("retrieve_ms_p95", "ret p95 ms", 2),
           ("ingest_ms_p50", "ing p50 ms", 3),
           ("records", "records", 0), ("bytes", "KB", 0), ("llm_calls", "LLM calls", 0),
           ("embed_misses", "embedded in sandbox", 0)]
REFERENCE_TEXT = """Independent reference on LoCoMo categories 1-4, evidence recall over turns at top-10:
BM25 about 0.50, MiniLM dense about 0.45. The rows below run the seeds with no token budget, so
their TOP_K (10) alone decides what is returned; `recall` excludes category 5, which is scored
as abstention. Ours differs from the reference in small ways that move recall by a few points:
turns carry the speaker's name and any shared photo's caption, BM25 has no stemming and drops
a short stop-word list, and 2 evidence ids that name no turn are dropped (4 questions have
no evidence at all and are not scored)."""


def _fmt(value: Any, digits: int, key: str) -> str:
    if value is None:
        return "-"
    if key == "bytes":
        return "-" if value < 0 else f"{value / 1024:.0f}"
    return f"{value:.{digits}f}"


def _overall(rows: list[dict]) -> list[str]:
    head = "| seed | status | " + " | ".join(c[1] for c in COLUMNS) + " | wall s |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for r in sorted(rows, key=lambda r: -(r["metrics"].get("recall") or 0)):
        m = r["metrics"]
        cells = [_fmt(m.get(k), d, k) for k, _, d in COLUMNS]
        status = r["status"] if not r["error"] else f"{r['status']} ({r['error'][:60]})"
        lines.append(f"| {r['seed']} | {status} | " + " | ".join(cells) + f" | {r['wall_s']:.1f} |")
    return lines


def _per_category(rows: list[dict]) -> list[str]:
    cats = sorted({c for r in rows for c in r["per_category"]})
    if not cats:
        return []
    lines = ["| seed | " + " | ".join(cats) + " |", "|" + "---|" * (len(cats) + 1)]
    for r in sorted(rows, key=lambda r: r["seed"]):
        cells = []
        for c in cats:
            pc = r["per_category"].get(c, {})
            v = pc.get("recall", pc.get("session_recall", pc.get("abstain_empty")))
            cells.append("-" if v is None else f"{v:.2f}")
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    return lines


def render(meta: dict, rows: list[dict]) -> str:
    out = ["# Baselines", "",
           "Every seed program on every task, measured by `bench/baselines.py` in the process sandbox.",
           "Recall is evidence recall within the token budget: the mean credit of a question's gold turns,",
           "where an item citing a turn earns the share of the turn's content words its text shows, each",
           "word weighted by its idf over the stream's events, or nothing below a share of 0.35 (the rule of",
           "sandboxes/evidence.py at the commit named below; docs/TASKS.md, Metrics; `all`: every gold turn credited;",
           "`session`: gold sessions reached through a credited turn; nDCG is graded by the same credit).",
           "`abstain` is the share of abstention questions answered with an empty recall.",
           "Latencies are per operation inside the sandbox; `wall s` is the whole evaluation.", "",
           f"- Command: `{meta['command'].strip()}`", f"- Date: {meta['date']}, commit `{meta['commit']}`, {meta['machine']}",
           f"- Embedder (for seeds that embed): `{meta['embedder']}` in the main tables, "
           f"`{meta.get('reference_embedder', meta['embedder'])}` in the LoCoMo reference rows; "
           "event texts and questions are served from the embedding cache, other texts are embedded in the sandbox", "",
           "| task | data | fidelity |", "|---|---|---|"]
    for t, v in meta["data"].items():
        out.append(f"| {t} | {v} | {meta['fidelity'][t]} |")
    out.append("")
    missing = [TITLES[t] for t in TITLES if t not in meta["data"]]
    if missing:
        out += [f"Not in this run: {', '.join(missing)}. `bench/seed_embedders.py` measures every seed on every",
                "task with the hashing and static embedders (its section below), under the scoring rule of the commit",
                "it names: numbers from before the idf-weighted rule (commit 99de43a) are stale.", ""]
    for task, title in TITLES.items():
        main = [r for r in rows if r["task"] == task and not r["params"]]
        if not main:
            continue
        out += [f"## {title}", "", *_overall(main), "", "Per category (recall; abstention categories: abstain):", "",
                *_per_category(main), ""]
    ref = [r for r in rows if r["task"] == "locomo" and r["params"]]
    if ref:
        out += ["## LoCoMo at top-10 without a token budget", "", REFERENCE_TEXT, "",
                "| seed | embedder | recall (cat 1-4) | any | session | multi_hop | temporal | open_domain "
                "| single_hop |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(ref, key=lambda r: r["seed"]):
            m, pc = r["metrics"], r["per_category"]
            cats = [pc.get(c, {}).get("recall") for c in ("multi_hop", "temporal", "open_domain", "single_hop")]
            out.append(f"| {r['seed']} | {r.get('embedder', '')} | {m.get('recall', 0):.3f} | "
                       f"{m.get('recall_any', 0):.3f} | {m.get('session_recall', 0):.3f} | "
                       + " | ".join("-" if c is None else f"{c:.3f}" for c in cats) + " |")
        ours = {r["seed"]: r["metrics"].get("recall", 0.0) for r in ref}
        if "bm25_rag" in ours and "dense_rag" in ours:
            out += ["", f"Against the reference: BM25 {ours['bm25_rag']:.3f} (reference about 0.50), "
                    f"dense {ours['dense_rag']:.3f} (reference about 0.45)."]
        out.append("")
    speed = meta.get("speed")
    if speed:
        out += ["## Evaluation speed (LoCoMo full)", "",
                f"`python bench/eval_speed.py --embedder {speed['embedder']}`: {speed['conversations']} conversations, "
                f"{speed['questions']} questions, {speed['cores']} cores (shared with other work while measured). "
                + ("The cache was reused, so cold equals warm here. " if speed["cache"].get("reused") else "")
                + f"Cold = building the embedding cache ({int(speed['cache']['computed'])} texts, "
                f"{speed['cache']['seconds']:.1f} s) plus the first evaluation; "
                "warm = an evaluation reading the cache.", "",
                "| seed | cold s | warm s | target s | recall | embed misses |", "|---|---|---|---|---|---|"]
        for r in speed["rows"]:
            out.append(f"| {r['seed']} | {r['cold_s']:.2f} | {r['warm_s']:.2f} | {r['target_s'] or '-'} | "
                       f"{r['recall']:.3f} | {int(r['embed_misses'])} |")
        out.append("")
    gaming = meta.get("gaming")
    if gaming:
        out += ["## Gaming programs (the adversarial suite)", "",
                "The programs of tests/gaming/ store nothing useful and try to earn credit by citing rather",
                "than showing; tests/test_scoring_adversarial.py requires each to stay below `bm25_rag`.",
                f"`{gaming['meta']['command'].strip()}`"
                + (f", then `{gaming['meta']['rerun'].strip()}`" if gaming["meta"].get("rerun") else "")
                + f" ({gaming['meta']['date']}"
                + (f", commit `{gaming['meta']['commit']}`" if gaming["meta"].get("commit") else "")
                + "); each row is what "
                "`memarch eval tests/gaming/NAME.py --task T --fidelity full` reports.", "",
                "| program | task | status | recall | nDCG | MRR | session | tokens | what it does |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(gaming["rows"], key=lambda r: (r["task"], r["program"] != "bm25_rag", r["program"])):
            m = r["metrics"]
            cells = " | ".join("-" if m.get(k) is None else f"{m[k]:.{0 if k == 'tokens' else 3}f}"
                               for k in ("recall", "ndcg", "mrr", "session_recall", "tokens"))
            out.append(f"| {r['program']} | {r['task']} | {r['status']} | {cells} | {r['doc'].removeprefix('Gaming: ')} |")
        out.append("")
    out += ["## Seeds", ""] + [f"- `{s}`: {d}" for s, d in meta["summaries"].items()] + [""]
    return "\n".join(out)
