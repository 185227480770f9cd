"""bAbI (Weston et al., 2015): the 20 QA tasks, v1.2, English, 1k stories per file.

Each story is one episode; its statement lines become events (id ``qa<N>:<file>:<story>:<line>``),
its question lines become queries whose gold evidence is the supporting-fact line ids and
whose answer is one word (a comma-separated list in tasks 8 and 19). bAbI has its own split:
``search`` reads the train files, ``test`` the test files, ``all`` both. Streaming (the
default) asks each question where it stands in the story, as bAbI intends; frozen asks all
of a story's questions after its last line (answers about moving objects may then be stale,
while the evidence ids stay right).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from design_space.contract import Event, Query, Signal
from sandboxes.tasks.base import Episode, Gold, Stream, TaskError
from sandboxes.tasks.params import DataParams, check_fidelity, data_root, parse_params
from sandboxes.tasks.selection import stratified

DOWNLOAD = "https://research.facebook.com/downloads/babi/ (tasks_1-20_v1-2.tar.gz, folder en/)"
LINE_SECONDS = 60.0
_FILE = re.compile(r"qa(\d+)_(.+)_(train|test)\.txt")


@dataclass
class BabiParams(DataParams):
    split: str = "test"
    protocol: str = "streaming"
    budget_tokens: int = 64


@dataclass(frozen=True)
class _Story:
    key: str  # qa<N>:<file>:<story index>
    task: str  # category, e.g. qa1_single-supporting-fact
    lines: tuple[tuple[int, str, str, tuple[int, ...]], ...]  # (line id, text, answer or "", supporting ids)
    is_question: tuple[bool, ...]


def find_dir(path: str) -> Path:
    base = Path(path).expanduser() if path else data_root() / "babi"
    for c in (base, base / "en", base / "tasks_1-20_v1-2" / "en"):
        if c.is_dir() and any(c.glob("qa*_*.txt")):
            return c
    raise TaskError(f"babi data not found at {base} (set task param 'path' or MEMARCH_DATA; download: {DOWNLOAD})")


@lru_cache(maxsize=64)
def _parse_file(path: str, n: int, name: str, part: str) -> tuple[_Story, ...]:
    stories: list[_Story] = []
    cur: list[tuple[int, str, str, tuple[int, ...]]] = []
    isq: list[bool] = []

    def close() -> None:
        if cur:
            stories.append(_Story(f"qa{n}:{part}:{len(stories)}", f"qa{n}_{name}", tuple(cur), tuple(isq)))

    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            raw = raw.rstrip("\n")
            if not raw.strip():
                continue
            num, _, rest = raw.partition(" ")
            line_id = int(num)
            if line_id == 1:
                close()
                cur, isq = [], []
            if "\t" in rest:
                question, answer, support = (rest.split("\t") + ["", ""])[:3]
                cur.append((line_id, question.strip(), answer.strip(), tuple(int(x) for x in support.split())))
                isq.append(True)
            else:
                cur.append((line_id, rest.strip(), "", ()))
                isq.append(False)
    close()
    return tuple(stories)


def load(directory: Path, parts: tuple[str, ...], tasks: set[int]) -> list[_Story]:
    out: list[_Story] = []
    files = sorted((int(m.group(1)), m.group(2), m.group(3), f) for f in directory.iterdir()
                   if (m := _FILE.fullmatch(f.name)))
    for n, name, part, f in files:
        if part in parts and n in tasks:
            out.extend(_parse_file(str(f), n, name, part))
    return out


def _tasks(requested: list[Any]) -> set[int]:
    if not requested:
        return set(range(1, 21))
    out = set()
    for c in requested:
        m = re.fullmatch(r"(?:qa)?(\d+)(?:_.*)?", str(c))
        if not m or not 1 <= int(m.group(1)) <= 20:
            raise TaskError(f"babi task: unknown category {c!r} (use 1-20 or qa1 ... qa20)")
        out.add(int(m.group(1)))
    return out


class Babi:
    name = "babi"
    has_splits = True  # params.split: search | test | all (campaigns search on search, hold out test)

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> Stream:
        p = parse_params(BabiParams, "babi", params)
        check_fidelity(fidelity)
        parts = {"search": ("train",), "test": ("test",), "all": ("train", "test")}[p.split]
        stories = load(find_dir(p.path), parts, _tasks(p.categories))
        if not stories:
            raise TaskError(f"babi: no stories for split {p.split!r} in {find_dir(p.path)}")
        keep: set[str] | None = None
        if fidelity != "full":
            n = p.smoke_questions if fidelity == "smoke" else p.subset_questions
            keep = stratified([(f"{s.key}:{line[0]}", s.task) for s in stories
                               for line, q in zip(s.lines, s.is_question) if q], n)
        stream = Stream(episodes=[], gold={})
        for story in stories:
            self._episode(stream, story, keep, p)
        return stream

    def _episode(self, stream: Stream, story: _Story, keep: set[str] | None, p: BabiParams) -> None:
        wanted = [f"{story.key}:{line[0]}" for line, q in zip(story.lines, story.is_question) if q]
        if keep is not None and not any(k in keep for k in wanted):
            return
        episode = Episode(id=story.key)
        later: list[Query] = []
        t = 0.0
        for (line_id, text, answer, support), is_q in zip(story.lines, story.is_question):
            t = line_id * LINE_SECONDS
            key = f"{story.key}:{line_id}"
            if not is_q:
                episode.steps.append(Event(id=key, text=text, time=t, session=story.key))
                stream.event_text[key] = text
                stream.event_session[key] = story.key
                continue
            if keep is not None and key not in keep:
                continue
            qid = f"{key}?"
            stream.gold[qid] = Gold(evidence=tuple(f"{story.key}:{s}" for s in support), answer=answer,
                                    category=story.task, evidence_sessions=(story.key,))
            stream.query_text[qid] = text
            query = Query(id=qid, text=text, time=t, budget_tokens=p.budget_tokens)
            (episode.steps if p.protocol == "streaming" else later).append(query)
        for q in later:
            episode.steps.append(Query(id=q.id, text=q.text, time=t + LINE_SECONDS, budget_tokens=q.budget_tokens))
        episode.steps.append(Signal(kind="task_end", time=t + 2 * LINE_SECONDS, session=story.key))
        stream.episodes.append(episode)
