"""Scoring a transcript against gold, on the trusted side: no LLM needed.

Per query: evidence recall within the token budget at turn level (mean credit of the gold
turns, ``recall_any`` at least one credited, ``recall_all`` every one) and session level
(``session_recall``, ``session_recall_all``), graded nDCG over the credited source ids and
MRR (the first item that earns a gold turn), tokens returned. ``recall_se`` is the standard
error of the mean recall: how far the mean of these questions may sit from the program's recall
on questions like them. A cited event is credited only with the share of it the item shows
(sandboxes/evidence.py); citing alone earns nothing. Abstention queries score whether the recall came back empty
(``abstain_empty``); questions with no usable gold are counted but not scored. When an
answerer ran (sandboxes/answer.py) its per-query ``f1``, ``em`` and ``judge`` join the rows.
Aggregates are means overall and per category, plus latency percentiles per operation,
LLM use of the program, footprint and health.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any


from sandboxes.evidence import EventWords, event_words
from sandboxes.tasks.base import Gold, Stream

FAILURE_SAMPLE = 8
ANSWER_KEYS = ("f1", "em", "judge")


def credited(items: list[list[Any]], events: EventWords | None) -> tuple[dict[str, float], dict[str, int]]:
    """Every cited event's credit (the best share one item shows, see sandboxes/evidence.py) in
    the order events are first credited, and the rank of the first item that earns it. Without
    event texts (`events` None) a citation is taken at its word."""
    credit: dict[str, float] = {}
    first: dict[str, int] = {}
    for rank, (text, ids, _score) in enumerate(items):
        got = events.credit(text, ids) if events is not None else {str(i): 1.0 for i in ids}
        for i, c in got.items():
            if c > credit.get(i, 0.0):
                credit[i] = c
            first.setdefault(i, rank)
    return credit, first


def score_query(gold: Gold, entry: dict[str, Any], event_session: Any,
                events: EventWords | None = None) -> dict[str, float]:
    items = entry["items"]
    out = {"tokens": float(entry["tokens"]), "empty": float(not items)}
    if gold.abstain:
        out["abstain_empty"] = float(not items)
        return out
    credit, first = credited(items, events)
    gold_sessions = set(gold.evidence_sessions) or {event_session.get(e, "") for e in gold.evidence}
    if gold_sessions:
        got_sessions = {event_session.get(i, "") for i in credit}
        hit = gold_sessions & got_sessions
        out["session_recall"] = len(hit) / len(gold_sessions)
        out["session_recall_all"] = float(hit == gold_sessions)
    if not gold.evidence:  # session-level gold only (e.g. LongMemEval without has_answer turns)
        return out
    gold_ids = set(gold.evidence)
    found = gold_ids.intersection(credit)
    out["recall"] = math.fsum(credit[i] for i in found) / len(gold_ids)  # a set: order-free sum
    out["recall_any"] = float(bool(found))
    out["recall_all"] = float(found == gold_ids)
    # graded nDCG: the gain of a gold event is its credit, at its place among the credited ids
    dcg = sum(credit[i] / math.log2(r + 2) for r, i in enumerate(credit) if i in gold_ids)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(len(gold_ids)))
    out["ndcg"] = dcg / idcg
    out["mrr"] = 1.0 / (min(first[i] for i in found) + 1) if found else 0.0
    return out


def _avg(values: list[float]) -> float:
    """Mean of a short list (np.mean costs ~25 us a call in overhead, thousands of calls a job)."""
    return math.fsum(values) / len(values) if values else 0.0


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    out = {k: _avg([r[k] for r in rows if k in r]) for k in keys}
    out["n"] = float(len(rows))
    return out


def _standard_error(values: list[float]) -> float:
    """Standard error of the mean: sample standard deviation / sqrt(n), for n >= 2."""
    mean = _avg(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


def _pct(values: list[float], q: float) -> float:
    """np.percentile's default (linear) rule, bit for bit, at a twentieth of its overhead on short lists."""
    if not values:
        return 0.0
    s = sorted(values)
    pos = (q / 100) * (len(s) - 1)
    lo = math.floor(pos)
    t = pos - lo
    a, b = s[lo], s[min(lo + 1, len(s) - 1)]
    return float(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)


def score_transcript(stream: Stream, transcript: dict[str, Any],
                     answers: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return metrics, per_category, per_item and a failure sample.

    `answers` (query id -> {"answer", "f1", "em", "judge"?}) comes from sandboxes.answer."""
    answered = transcript["queries"]
    rows: dict[str, dict[str, float]] = {}
    by_cat: dict[str, list[dict[str, float]]] = defaultdict(list)
    failures: list[dict[str, Any]] = []
    missing = [qid for qid in stream.gold if qid not in answered]
    if missing:
        raise ValueError(f"transcript lacks {len(missing)} queries (first: {missing[0]})")
    events = event_words(stream.event_text) if stream.event_text else None
    for qid, gold in stream.gold.items():
        row = score_query(gold, answered[qid], stream.event_session, events)
        ans = (answers or {}).get(qid)
        if ans:
            row.update({k: float(ans[k]) for k in ANSWER_KEYS if ans.get(k) is not None})
        rows[qid] = row
        by_cat[gold.category].append(row)
        if row.get("recall", 1.0) < 1.0 and len(failures) < FAILURE_SAMPLE:
            failures.append({
                "query_id": qid,
                "question": stream.query_text.get(qid, ""),
                "category": gold.category,
                "gold_evidence": {e: stream.event_text.get(e, "") for e in gold.evidence},
                "answer": gold.answer,
                "returned": [{"text": t[:300], "source_ids": ids} for t, ids, _ in answered[qid]["items"][:5]],
                **({"predicted": str(ans.get("answer", ""))[:300]} if ans else {}),
            })
    scored = [r for r in rows.values() if "recall" in r]
    metrics = _mean(scored) if scored else {}
    metrics.pop("n", None)
    if len(scored) > 1:
        metrics["recall_se"] = _standard_error([r["recall"] for r in scored])
    for key in ("session_recall", "session_recall_all", "abstain_empty") + ANSWER_KEYS:
        values = [r[key] for r in rows.values() if key in r]
        if values:
            metrics[key] = _avg(values)
    metrics["queries"] = float(len(rows))
    metrics["scored_queries"] = float(len(scored))
    metrics["tokens"] = _avg([r["tokens"] for r in rows.values()])
    metrics["empty_rate"] = _avg([r["empty"] for r in rows.values()])
    metrics.pop("empty", None)
    ops = transcript.get("ops", {})
    for op, values in ops.items():
        metrics[f"{op}_ms_p50"] = _pct(values, 50)
        metrics[f"{op}_ms_p95"] = _pct(values, 95)
    metrics["latency_ms"] = metrics.get("retrieve_ms_p50", 0.0)
    metrics["records"], metrics["bytes"] = footprint_of(transcript)
    metrics["llm_calls"] = float(transcript.get("llm", {}).get("calls", 0))
    metrics["llm_tokens"] = float(transcript.get("llm", {}).get("tokens", 0))
    if "embed" in transcript:  # texts the sandbox had to embed itself: the cache missed them
        metrics["embed_misses"] = float(transcript["embed"].get("misses", 0))
    metrics["over_budget_rate"] = _avg([e["over_budget"] for e in answered.values()])
    per_category = {cat: _mean(rs) for cat, rs in sorted(by_cat.items())}
    for cat in per_category:
        per_category[cat]["empty_rate"] = per_category[cat].pop("empty", 0.0)
    per_item = {qid: r.get("recall", r.get("session_recall", r.get("abstain_empty", 0.0))) for qid, r in rows.items()}
    return {"metrics": metrics, "per_category": per_category, "per_item": per_item, "failures": failures}


def footprint_of(transcript: dict[str, Any]) -> tuple[float, float]:
    """(records, bytes) the harness measured. Footprint objectives are minimised, so a transcript
    without a measured, non-negative size is refused rather than scored (it would rank best)."""
    fp = transcript.get("footprint")
    size = fp.get("bytes") if isinstance(fp, dict) else None
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size >= 0:
        raise ValueError(f"footprint: bytes is {size!r}, not a measured size")
    return float(fp.get("records", 0)), float(size)


def health_problem(metrics: dict[str, float]) -> str:
    """A run that stored nothing or recalled nothing is not a success, whatever its scores."""
    if metrics.get("records", 0) == 0:
        return "program stored no records"
    if metrics.get("empty_rate", 0) >= 1.0:
        return "every recall came back empty"
    return ""
