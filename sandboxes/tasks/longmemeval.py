"""LongMemEval (Wu et al., 2025): 500 questions, each over its own haystack of chat sessions.

Each question is one episode: its haystack sessions (sorted by date) become events, then the
question is asked at its ``question_date``. Gold is turn-level (turns with ``has_answer``)
and session-level (``answer_session_ids``). Upstream session ids begin with ``answer_`` on
evidence sessions and question ids end in ``_abs`` on abstention questions, so the program
sees neither: episodes, queries, sessions and events get opaque ids derived from a hash of
the question id. Reads the oracle, S and M files, plain ``.json`` or ``.json.gz``.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError
from sandboxes.tasks.params import DataParams, check_fidelity, locate, parse_params
from sandboxes.tasks.selection import split_keys, stratified

DOWNLOAD = "https://huggingface.co/datasets/xiaowu0162/longmemeval (longmemeval_oracle.json, _s, _m)"
FILES = {"oracle": ("longmemeval_oracle.json", "longmemeval_oracle.json.gz", "longmemeval_oracle_reassembled.json.gz",
                    "longmemeval_oracle_reassembled.json"),
         "s": ("longmemeval_s.json", "longmemeval_s.json.gz", "longmemeval_s_cleaned.json"),
         "m": ("longmemeval_m.json", "longmemeval_m.json.gz", "longmemeval_m_cleaned.json")}
TYPES = ("single-session-user", "single-session-assistant", "single-session-preference", "multi-session",
         "knowledge-update", "temporal-reasoning", "abstention")
TURN_SECONDS = 30.0


@dataclass
class LongMemEvalParams(DataParams):
    variant: str = "oracle"  # oracle | s | m: which file to look for when 'path' is a directory
    budget_tokens: int = 1024
    subset_questions: int = 60
    smoke_questions: int = 7


def parse_date(text: str) -> float:
    """'2023/05/21 (Sun) 19:50' -> POSIX seconds (UTC)."""
    try:
        dt = datetime.strptime(text.strip(), "%Y/%m/%d (%a) %H:%M")
    except ValueError as exc:
        raise TaskError(f"longmemeval: unreadable date {text!r}") from exc
    return dt.replace(tzinfo=timezone.utc).timestamp()


def opaque(question_id: str) -> str:
    return "q" + hashlib.blake2b(question_id.encode(), digest_size=6).hexdigest()


@lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> list[dict[str, Any]]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, list) or not data or "haystack_sessions" not in data[0]:
        raise TaskError(f"longmemeval: {path} is not a LongMemEval file (expected a list of questions)")
    return data


def load(path: Path) -> list[dict[str, Any]]:
    return _load(str(path), path.stat().st_mtime)


def category(q: dict[str, Any]) -> str:
    return "abstention" if q["question_id"].endswith("_abs") else q["question_type"]


class LongMemEval:
    name = "longmemeval"
    has_splits = True  # params.split: search | test | all (campaigns search on search, hold out test)

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        p = parse_params(LongMemEvalParams, "longmemeval", params)
        check_fidelity(fidelity)
        if p.variant not in FILES:
            raise TaskError(f"longmemeval task: parameter 'variant' must be oracle, s or m, not {p.variant!r}")
        for c in p.categories:
            if c not in TYPES:
                raise TaskError(f"longmemeval task: unknown category {c!r} (use {', '.join(TYPES)})")
        data = load(locate("longmemeval", p.path, "longmemeval", FILES[p.variant], DOWNLOAD))
        items = [(q["question_id"], category(q)) for q in data if not p.categories or category(q) in p.categories]
        keep = split_keys(items, p.split, p.test_fraction)
        if fidelity != "full":
            n = p.smoke_questions if fidelity == "smoke" else p.subset_questions
            keep = stratified([(k, c) for k, c in items if k in keep], n)
        stream = Stream(episodes=[], gold={})
        for q in sorted((q for q in data if q["question_id"] in keep), key=lambda q: opaque(q["question_id"])):
            self._episode(stream, q, p)
        return stream

    def _episode(self, stream: Stream, q: dict[str, Any], p: LongMemEvalParams) -> None:
        qid = opaque(q["question_id"])
        episode = Episode(id=qid)
        gold_sessions = set(q.get("answer_session_ids", []))
        sessions = sorted(zip(q["haystack_dates"], q["haystack_session_ids"], q["haystack_sessions"]),
                          key=lambda x: parse_date(x[0]))  # sorted() is stable: same-date sessions keep order
        evidence: list[str] = []
        evidence_sessions: list[str] = []
        end = 0.0
        for j, (date, raw_sid, turns) in enumerate(sessions):
            session = f"{qid}:s{j}"
            start = parse_date(date)
            for k, turn in enumerate(turns):
                eid = f"{qid}:s{j}:{k}"
                episode.steps.append(Event(id=eid, text=turn["content"], time=start + k * TURN_SECONDS,
                                           speaker=turn["role"], session=session))
                stream.event_text[eid] = turn["content"]
                stream.event_session[eid] = session
                if turn.get("has_answer"):
                    evidence.append(eid)
            end = start + len(turns) * TURN_SECONDS
            episode.steps.append(Signal(kind="session_end", time=end, session=session))
            if raw_sid in gold_sessions:
                evidence_sessions.append(session)
        # Frozen and streaming coincide here: each question follows its whole haystack.
        at = max(parse_date(q["question_date"]), end + 1.0)
        stream.query_text[qid] = q["question"]
        episode.steps.append(Query(id=qid, text=q["question"], time=at, budget_tokens=p.budget_tokens))
        episode.steps.append(Signal(kind="task_end", time=at + 60.0))
        stream.gold[qid] = Gold(evidence=tuple(evidence), answer=str(q["answer"]), category=category(q),
                                abstain=q["question_id"].endswith("_abs"), evidence_sessions=tuple(evidence_sessions))
        stream.episodes.append(episode)
