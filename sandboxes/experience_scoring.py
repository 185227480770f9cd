"""Scoring an experience stream on the trusted side: the offline predictor and online metrics.

The offline predictor turns what a program's `retrieve` returned into an answer without an
LLM: a weighted vote over the labels of the returned source events. Item ``r`` (0-based
rank) with score ``s`` weighs ``1/(r+1) + max(s, 0)/max_score`` — rank order always
counts, and scores count relative to the best item so BM25 and cosine programs vote
alike. An item citing several events splits its weight evenly among them, so a rule or
prototype backed by many examples votes in proportion to their labels. Only events that
came *before* the query in the stream and that the item shows can vote (the evidence rule
of sandboxes/evidence.py: the item's text holds at least 0.35 of the idf weight of the event's content words):
a program that guesses the id of a future event, or cites examples it does not show, learns
nothing. No vote means wrong, or the majority label revealed so far
when the task's ``fallback`` is ``majority``.

Metrics: ``accuracy`` (online accuracy over the stream = area under the learning curve),
``accuracy_first`` / ``accuracy_last`` (first / last window), ``accuracy_before_drift`` /
``accuracy_after_drift`` on drifting streams, per-class accuracy in ``per_category``;
footprint ``records`` (written to store, counted by the harness) and ``memory_kb`` (the
program's state at the end, pickled by the harness); ``tokens`` returned per query;
``latency_ms`` (retrieve p50) and ``step_ms`` (mean time for one query + feedback + event).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from sandboxes.evidence import EventWords, event_words
from sandboxes.scoring import footprint_of
from sandboxes.tasks.experience import ExperienceStream

FAILURE_SAMPLE = 8


def vote(items: list[list[Any]], label_of: Callable[[str], str | None],
         events: EventWords | None = None) -> tuple[str | None, dict[str, float]]:
    """The label with the most weight among the items' source events (ties: the better-ranked label).
    With `events`, only the cited events an item shows vote."""
    if not items:
        return None, {}
    top = max((max(float(s), 0.0) for _t, _ids, s in items), default=0.0)
    weights: dict[str, float] = {}
    first_rank: dict[str, int] = {}
    for rank, (text, ids, score) in enumerate(items):
        voters = [str(i) for i in ids if label_of(str(i)) is not None]
        if events is not None:
            shown = events.credit(text, voters)
            voters = [i for i in voters if i in shown]
        labels = [label_of(i) for i in voters]
        if not labels:
            continue
        w = 1.0 / (rank + 1) + (max(float(score), 0.0) / top if top > 0 else 0.0)
        for lab in labels:
            weights[lab] = weights.get(lab, 0.0) + w / len(labels)
            first_rank.setdefault(lab, rank)
    if not weights:
        return None, {}
    best = max(weights, key=lambda lab: (weights[lab], -first_rank[lab]))
    return best, weights


def predictions(stream: ExperienceStream, transcript: dict[str, Any]) -> dict[str, str | None]:
    """The offline prediction for every query, in stream order."""
    answered = transcript["queries"]
    missing = [q for q in stream.order if q not in answered]
    if missing:
        raise ValueError(f"transcript lacks {len(missing)} queries (first: {missing[0]})")
    events = sorted((pos, eid) for eid, pos in stream.position.items() if eid in stream.event_label)
    seen: Counter[str] = Counter()
    shows = event_words(stream.event_text)
    k = 0
    out: dict[str, str | None] = {}
    for qid in stream.order:
        qpos = stream.position[qid]
        while k < len(events) and events[k][0] < qpos:
            seen[stream.event_label[events[k][1]]] += 1
            k += 1

        def label_of(eid: str, qpos: int = qpos) -> str | None:
            pos = stream.position.get(eid)
            return stream.event_label.get(eid) if pos is not None and pos < qpos else None

        label, _ = vote(answered[qid]["items"], label_of, shows)
        if label is None and stream.fallback == "majority" and seen:
            label = max(sorted(seen), key=lambda lab: seen[lab])
        out[qid] = label
    return out


def _acc(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def score_experience(stream: ExperienceStream, transcript: dict[str, Any]) -> dict[str, Any]:
    """Return metrics, per_category (per class), per_item (1 correct / 0 wrong) and a failure sample."""
    answered = transcript["queries"]
    pred = predictions(stream, transcript)
    correct = [float(pred[q] == stream.gold[q].answer) for q in stream.order]
    n = len(correct)
    w = min(stream.window, n)
    m: dict[str, float] = {
        "accuracy": _acc(correct), "accuracy_first": _acc(correct[:w]), "accuracy_last": _acc(correct[n - w:]),
        "queries": float(n), "vote_rate": _acc([float(pred[q] is not None) for q in stream.order]),
    }
    if stream.drift_at is not None:
        m["accuracy_before_drift"] = _acc(correct[:stream.drift_at])
        m["accuracy_after_drift"] = _acc(correct[stream.drift_at:])
    m["tokens"] = _acc([float(answered[q]["tokens"]) for q in stream.order])
    m["empty_rate"] = _acc([float(not answered[q]["items"]) for q in stream.order])
    m["over_budget_rate"] = _acc([float(answered[q]["over_budget"]) for q in stream.order])
    ops = transcript.get("ops", {})
    for op, values in ops.items():
        m[f"{op}_ms_p50"] = float(np.percentile(values, 50)) if values else 0.0
        m[f"{op}_ms_p95"] = float(np.percentile(values, 95)) if values else 0.0
    m["latency_ms"] = m.get("retrieve_ms_p50", 0.0)
    m["step_ms"] = sum(float(np.mean(ops[op])) for op in ("ingest", "retrieve", "manage") if ops.get(op))
    m["records"], m["bytes"] = footprint_of(transcript)
    m["memory_kb"] = m["bytes"] / 1024.0
    if stream.capacity_records:
        m["capacity_used"] = m["records"] / stream.capacity_records
    m["llm_calls"] = float(transcript.get("llm", {}).get("calls", 0))
    m["llm_tokens"] = float(transcript.get("llm", {}).get("tokens", 0))
    if "embed" in transcript:
        m["embed_misses"] = float(transcript["embed"].get("misses", 0))
    by_class: dict[str, list[float]] = defaultdict(list)
    for q, c in zip(stream.order, correct):
        by_class[stream.gold[q].category].append(c)
    per_category = {cat: {"accuracy": _acc(v), "n": float(len(v))} for cat, v in sorted(by_class.items())}
    failures = []
    for q, c in zip(stream.order, correct):
        if c or len(failures) >= FAILURE_SAMPLE:
            continue
        failures.append({
            "query_id": q, "question": stream.query_text.get(q, ""), "category": stream.gold[q].category,
            "answer": stream.gold[q].answer, "predicted": pred[q] or "",
            "returned": [{"text": t[:300], "source_ids": ids[:5],
                          "labels": [stream.event_label.get(i, "?") for i in ids[:5]]}
                         for t, ids, _ in answered[q]["items"][:5]],
        })
    per_item = {q: c for q, c in zip(stream.order, correct)}
    return {"metrics": m, "per_category": per_category, "per_item": per_item, "failures": failures}
