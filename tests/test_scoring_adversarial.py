"""Programs that game the evidence metrics score below plain BM25 on LoCoMo and on the synthetic task.

Every file in tests/gaming/ is a valid memory program that stores nothing useful and tries to
earn evidence credit by citing instead of showing (see each module's docstring). Each is
replayed by the real harness on real LoCoMo data (the `subset` fidelity: 200 questions of every conversation)
and on the synthetic task, scored by the real scorer, and must stay below the `bm25_rag` seed
on the same stream. The last tests score the same transcripts with the old, loose rule ("an
item is credited with a cited event when it shares a content word with it"), once written out
here and once patched into the product scorer (also with full credit from a quarter shown),
and show that such rules let gaming reach BM25: the suite fails if the scorer is loosened.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from data_paths import need
from design_space.seeds import seed_source
from design_space.validate import validate_source
from sandboxes.harness import replay
from sandboxes.job import Job
from sandboxes.scoring import score_transcript
from sandboxes.tasks import get_task
from sandboxes.wire import write_episodes

GAMING = sorted(Path(__file__).resolve().parent.joinpath("gaming").glob("*.py"))
TASKS = {"locomo": "subset", "synthetic": "full"}


class Bench:
    """Streams built once; each program replayed once per task."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.streams: dict = {}
        self.transcripts: dict = {}

    def stream(self, task: str):
        if task not in self.streams:
            if task == "locomo":
                need("locomo/locomo10.json")
            stream = get_task(task).build({}, TASKS[task], 0)
            path = self.root / f"{task}.jsonl"
            write_episodes(str(path), stream.episodes)
            self.streams[task] = (stream, path)
        return self.streams[task]

    def transcript(self, name: str, source: str, task: str) -> dict:
        key = (name, task)
        if key not in self.transcripts:
            assert validate_source(source) == [], f"{name} is not a valid program"
            stream, path = self.stream(task)
            work = self.root / f"{name}-{task}"
            work.mkdir()
            self.transcripts[key] = replay(Job(program=source, task=task, fidelity=TASKS[task]), str(path), str(work))
        return self.transcripts[key]

    def recall(self, name: str, source: str, task: str) -> float:
        return score_transcript(self.stream(task)[0], self.transcript(name, source, task))["metrics"]["recall"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    return Bench(tmp_path_factory.mktemp("adversarial"))


def test_the_suite_holds_the_gaming_strategies():
    names = {p.stem for p in GAMING}
    assert {"echo_question", "frequent_words", "one_turn_many_ids", "word_per_event"} <= names
    assert len(names) >= 8


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("program", GAMING, ids=lambda p: p.stem)
def test_gaming_scores_below_bm25(bench, program, task):
    bm25 = bench.recall("bm25_rag", seed_source("bm25_rag"), task)
    gamed = bench.recall(program.stem, program.read_text(), task)
    assert bm25 > 0.4, f"bm25_rag recall {bm25:.3f} on {task}: the reference itself is broken"
    assert gamed < bm25, f"{program.stem} recall {gamed:.3f} >= bm25_rag {bm25:.3f} on {task}"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_items_of_frequent_words_earn_nothing(bench, task):
    # the stream's most common words weigh least, so citing every event that holds them shows none
    program = next(p for p in GAMING if p.stem == "frequent_words")
    assert bench.recall(program.stem, program.read_text(), task) == 0.0


_OLD_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)


def _loose_recall(stream, transcript) -> float:
    """Recall under the old rule: a cited event counts in full when the item shares one content word with it."""
    def words(text: str) -> set[str]:
        return {w.lower() for w in _OLD_WORD.findall(text)}

    values = []
    for qid, gold in stream.gold.items():
        if gold.abstain or not gold.evidence:
            continue
        found = set()
        for text, ids, _s in transcript["queries"][qid]["items"]:
            shown = words(text)
            found |= {i for i in ids if i in gold.evidence and words(stream.event_text.get(i, "")) & shown}
        values.append(len(found) / len(gold.evidence))
    return sum(values) / len(values)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_a_loosened_rule_lets_gaming_beat_bm25(bench, task):
    stream = bench.stream(task)[0]
    bm25 = _loose_recall(stream, bench.transcript("bm25_rag", seed_source("bm25_rag"), task))
    winners = [p.stem for p in GAMING
               if _loose_recall(stream, bench.transcript(p.stem, p.read_text(), task)) > bm25]
    # the suite is only worth something if the strategies it holds defeat a loose rule
    assert len(winners) >= 3, f"only {winners} beat bm25_rag ({bm25:.3f}) under the loose rule on {task}"


def _loosened(floor: float):
    """A share rule loosened to full credit for any event shown at `floor` or more of its weight (0: one
    shared word)."""
    def share(shown, event, weight):
        part = sum(weight[w] for w in event & shown) / sum(weight[w] for w in event) if event else 0.0
        return 1.0 if part > 0 and part >= floor else 0.0
    return share


@pytest.mark.parametrize("task, floor", [("locomo", 0.0), ("synthetic", 0.0), ("synthetic", 0.25)])
def test_loosening_the_product_rule_makes_the_suite_fail(bench, monkeypatch, task, floor):
    import sandboxes.evidence

    monkeypatch.setattr(sandboxes.evidence, "share", _loosened(floor))
    bm25 = bench.recall("bm25_rag", seed_source("bm25_rag"), task)
    beat = [p.stem for p in GAMING if bench.recall(p.stem, p.read_text(), task) >= bm25]
    assert beat, f"no gaming program reaches bm25_rag ({bm25:.3f}) on {task} with credit for any share >= {floor}"
