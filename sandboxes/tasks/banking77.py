"""BANKING77 (Casanueva et al., 2020) as an experience stream: online-banking queries, 77 intents.

The data set (``banking77/train.csv`` and ``test.csv``, columns ``text,category``; 10,003 /
3,080 rows) becomes a stream of query → feedback → solved-task steps
(sandboxes/tasks/experience.py). Splits: ``test`` (and ``all``) stream the test file with
the train file as warm memory; ``search`` streams a stratified fifth of the train file with
the rest as warm memory, so a campaign can tune on ``search`` and report on ``test`` without
ever seeing a test query. Smaller fidelities take deterministic stratified subsets of both
the warm examples and the stream.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sandboxes.tasks.base import TaskError
from sandboxes.tasks.experience import (
    Example,
    ExperienceParams,
    ExperienceStream,
    build_stream,
    check,
    ordered,
)
from sandboxes.tasks.params import check_fidelity, data_root, parse_params
from sandboxes.tasks.selection import split_keys, stratified

DOWNLOAD = "https://github.com/PolyAI-LDN/task-specific-datasets (banking_data/train.csv, test.csv)"
SEARCH_FRACTION = 0.2  # share of train streamed by split=search


@dataclass
class Banking77Params(ExperienceParams):
    path: str = ""  # directory holding train.csv and test.csv; default $MEMARCH_DATA/banking77
    split: str = "test"  # test | search | all (all = test)
    warm_examples: int = 0  # cap on warm examples at full fidelity (0: the whole train side)
    subset_warm: int = 3080  # 40 per class
    subset_queries: int = 770  # 10 per class
    smoke_warm: int = 770
    smoke_queries: int = 154


@lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> tuple[Example, ...]:
    name = Path(path).stem
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise TaskError(f"banking77: cannot read {path}: {exc.strerror}") from None
    if not rows or not {"text", "category"} <= set(rows[0]):
        raise TaskError(f"banking77: {path} needs the columns text,category")
    return tuple(Example(key=f"{name}:{i}", text=r["text"].strip(), label=r["category"].strip())
                 for i, r in enumerate(rows))


def load(path: str, name: str) -> tuple[Example, ...]:
    base = Path(path).expanduser() if path else data_root() / "banking77"
    f = base / f"{name}.csv"
    if not f.is_file():
        raise TaskError(f"banking77 data not found at {f} (set task param 'path' or MEMARCH_DATA; "
                        f"download: {DOWNLOAD})")
    return _read(str(f), f.stat().st_mtime)


def pick(examples: tuple[Example, ...] | list[Example], n: int, salt: str) -> list[Example]:
    """A stratified subset of n examples (all when n covers them), in data order."""
    if n <= 0 or n >= len(examples):
        return list(examples)
    keep = stratified([(e.key, e.label) for e in examples], n, salt)
    return [e for e in examples if e.key in keep]


class Banking77:
    name = "banking77"
    has_splits = True  # params.split: search | test | all (campaigns search on search, hold out test)

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> ExperienceStream:
        p = parse_params(Banking77Params, "banking77", params)
        check(p, "banking77")
        check_fidelity(fidelity)
        if p.split not in ("test", "search", "all"):
            raise TaskError(f"banking77 task: parameter 'split' must be test, search or all, not {p.split!r}")
        train = load(p.path, "train")
        if p.split == "search":
            held = split_keys([(e.key, e.label) for e in train], "test", SEARCH_FRACTION)
            warm = [e for e in train if e.key not in held]
            stream = [e for e in train if e.key in held]
        else:
            warm, stream = list(train), list(load(p.path, "test"))
        n_warm = {"smoke": p.smoke_warm, "subset": p.subset_warm, "full": p.warm_examples}[fidelity]
        n_stream = {"smoke": p.smoke_queries, "subset": p.subset_queries, "full": 0}[fidelity]
        warm = pick(warm, n_warm, "warm")
        stream = pick(stream, n_stream, "stream")
        return build_stream("banking77", ordered(warm, p, seed, "warm"), ordered(stream, p, seed, "stream"), p)

    def score(self, stream: ExperienceStream, transcript: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.experience_scoring import score_experience

        return score_experience(stream, transcript)
