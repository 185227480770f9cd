"""LoCoMo (Maharana et al., 2024): ten long multi-session conversations with evidence-labelled QA.

Turns become events (id ``<sample>:<dia_id>``, session ``<sample>:S<n>``, time from the
session's date-time); QA become queries with the evidence turn ids as gold. Malformed
evidence strings upstream (``D8:6; D9:17``, ``D:11:26``, a bare ``D``) are normalised and
ids that name no turn are dropped. Category 5 (adversarial: the question asks about
something never said) is scored as abstention. Category ids follow the official
evaluation code: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop, 5 adversarial.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError
from sandboxes.tasks.params import DataParams, check_fidelity, locate, parse_params
from sandboxes.tasks.selection import first_ranked, split_keys, stratified

CATEGORIES = {1: "multi_hop", 2: "temporal", 3: "open_domain", 4: "single_hop", 5: "adversarial"}
DOWNLOAD = "https://github.com/snap-research/LoCoMo (data/locomo10.json)"
TURN_SECONDS = 60.0  # turns carry no clock of their own: space them a minute apart
_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")


@dataclass
class LocomoParams(DataParams):
    split_by: str = "question"  # question | conversation
    subset_conversations: int = 0  # 0: every conversation of the split (the sample stays representative)
    smoke_conversations: int = 1
    show_images: bool = True  # append the photo caption to turns that share an image


def parse_date(text: str) -> float:
    """'1:56 pm on 8 May, 2023' -> POSIX seconds (UTC)."""
    try:
        dt = datetime.strptime(" ".join(text.split()), "%I:%M %p on %d %B, %Y")
    except ValueError as exc:
        raise TaskError(f"locomo: unreadable session date {text!r}") from exc
    return dt.replace(tzinfo=timezone.utc).timestamp()


def normalise_evidence(raw: list[str]) -> list[str]:
    """Every 'D<session>:<turn>' found in the strings, in order, without duplicates."""
    out: list[str] = []
    for item in raw:
        for s, t in _ID.findall(str(item)):
            dia = f"D{int(s)}:{int(t)}"
            if dia not in out:
                out.append(dia)
    return out


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, list) or not data or "conversation" not in data[0]:
        raise TaskError(f"locomo: {path} is not locomo10.json (expected a list of samples)")
    return data


def load(path: Path) -> list[dict[str, Any]]:
    return _load(str(path), path.stat().st_mtime)


def _sessions(conv: dict[str, Any]) -> list[int]:
    return sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)) and conv[k])


class LoCoMo:
    name = "locomo"
    has_splits = True  # params.split: search | test | all (campaigns search on search, hold out test)

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        p = parse_params(LocomoParams, "locomo", params)
        check_fidelity(fidelity)
        if p.split_by not in ("question", "conversation"):
            raise TaskError(f"locomo task: parameter 'split_by' must be question or conversation, not {p.split_by!r}")
        for name in ("subset_conversations", "smoke_conversations"):
            if getattr(p, name) < 0:
                raise TaskError(f"locomo task: parameter {name!r} must be 0 (every conversation) or more, not {getattr(p, name)}")
        wanted = self._categories(p.categories)
        samples = load(locate("locomo", p.path, "locomo", ("locomo10.json",), DOWNLOAD))
        # Questions keyed by '<sample>#<index in qa>' (stable: the file is versioned upstream).
        qitems = [(f"{s['sample_id']}#{i}", q["category"]) for s in samples for i, q in enumerate(s["qa"])
                  if q["category"] in wanted]
        if p.split_by == "conversation":
            convs = split_keys([(s["sample_id"], "c") for s in samples], p.split, p.test_fraction)
            keep = {k for k, _ in qitems if k.split("#")[0] in convs}
        else:
            keep = split_keys(qitems, p.split, p.test_fraction)
        conv_ids = sorted({k.split("#")[0] for k in keep})
        if fidelity != "full":
            n_conv = p.smoke_conversations if fidelity == "smoke" else p.subset_conversations
            if n_conv > 0:
                conv_ids = first_ranked(conv_ids, n_conv, "conversations")
            n_q = p.smoke_questions if fidelity == "smoke" else p.subset_questions
            keep = stratified([(k, c) for k, c in qitems if k in keep and k.split("#")[0] in conv_ids], n_q)
        stream = Stream(episodes=[], gold={})
        for s in samples:
            if s["sample_id"] in conv_ids:
                self._episode(stream, s, keep, p)
        return stream

    @staticmethod
    def _categories(requested: list[Any]) -> set[int]:
        if not requested:
            return set(CATEGORIES)
        by_name = {v: k for k, v in CATEGORIES.items()}
        out = set()
        for c in requested:
            if isinstance(c, int) and c in CATEGORIES:
                out.add(c)
            elif str(c) in by_name:
                out.add(by_name[str(c)])
            elif str(c).isdigit() and int(c) in CATEGORIES:
                out.add(int(c))
            else:
                raise TaskError(f"locomo task: unknown category {c!r} (use 1-5 or {', '.join(by_name)})")
        return out

    def _episode(self, stream: Stream, sample: dict[str, Any], keep: set[str], p: LocomoParams) -> None:
        sid = sample["sample_id"]
        conv = sample["conversation"]
        episode = Episode(id=sid)
        session_end: dict[int, float] = {}
        turns: dict[int, list[Event]] = {}
        for n in _sessions(conv):
            start = parse_date(conv[f"session_{n}_date_time"])
            events = []
            for k, turn in enumerate(conv[f"session_{n}"]):
                text = turn["text"]
                if p.show_images and turn.get("blip_caption"):
                    text = f"{text} [shares a photo of {turn['blip_caption']}]"
                eid = f"{sid}:{normalise_evidence([turn['dia_id']])[0]}"
                events.append(Event(id=eid, text=text, time=start + k * TURN_SECONDS, speaker=turn["speaker"],
                                    session=f"{sid}:S{n}"))
                stream.event_text[eid] = text
                stream.event_session[eid] = f"{sid}:S{n}"
            turns[n] = events
            session_end[n] = start + len(events) * TURN_SECONDS
        last = max(session_end)
        # Streaming asks each question right after the session holding its latest evidence.
        ask_after: dict[int, list[Query]] = {n: [] for n in turns}
        for i, qa in enumerate(sample["qa"]):
            qid = f"{sid}#{i}"
            if qid not in keep:
                continue
            cat = qa["category"]
            evidence = [f"{sid}:{d}" for d in normalise_evidence(qa.get("evidence", []))]
            evidence = [e for e in evidence if e in stream.event_session]
            sessions = sorted({stream.event_session[e] for e in evidence})
            at = last
            if p.protocol == "streaming" and evidence:
                at = max(int(s.rsplit(":S", 1)[1]) for s in sessions)
            answer = qa.get("answer", qa.get("adversarial_answer", ""))
            stream.gold[qid] = Gold(evidence=tuple(evidence), answer=str(answer), category=CATEGORIES[cat],
                                    abstain=cat == 5, evidence_sessions=tuple(sessions))
            stream.query_text[qid] = qa["question"]
            ask_after[at].append(Query(id=qid, text=qa["question"], time=session_end[at] + 60.0,
                                       budget_tokens=p.budget_tokens))
        for n, events in turns.items():
            episode.steps.extend(events)
            episode.steps.append(Signal(kind="session_end", time=session_end[n], session=f"{sid}:S{n}"))
            episode.steps.extend(ask_after[n])
        episode.steps.append(Signal(kind="task_end", time=session_end[last] + 120.0))
        stream.episodes.append(episode)
