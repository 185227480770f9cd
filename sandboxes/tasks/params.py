"""Task parameters from the campaign config: typed dataclasses, unknown keys named in the error.

Every real-data task shares the fields of `DataParams`; a task adds its own by subclassing.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sandboxes.tasks.base import TaskError

FIDELITIES = ("smoke", "subset", "full")
PROTOCOLS = ("frozen", "streaming")
P = TypeVar("P")


@dataclass
class DataParams:
    path: str = ""  # a file or a directory; default: $MEMARCH_DATA or ../shared/data
    split: str = "all"  # search | test | all
    test_fraction: float = 0.3
    budget_tokens: int = 256
    subset_questions: int = 200
    smoke_questions: int = 20
    categories: list[Any] = field(default_factory=list)  # restrict to these categories
    protocol: str = "frozen"  # frozen: ingest all, then ask; streaming: ask at the question's time


def parse_params(cls: type[P], task: str, params: dict[str, Any]) -> P:
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    for key in sorted(params):
        if key not in allowed:
            raise TaskError(f"{task} task: unknown parameter {key!r} (allowed: {', '.join(sorted(allowed))})")
    values = {}
    for key, value in params.items():
        default = allowed[key].default
        if default is dataclasses.MISSING:
            default = allowed[key].default_factory()  # type: ignore[misc]
        values[key] = _coerce(task, key, value, default)
    p = cls(**values)
    if isinstance(p, DataParams):
        if p.split not in ("search", "test", "all"):
            raise TaskError(f"{task} task: parameter 'split' must be search, test or all, not {p.split!r}")
        if p.protocol not in PROTOCOLS:
            raise TaskError(f"{task} task: parameter 'protocol' must be frozen or streaming, not {p.protocol!r}")
        if not 0.0 < p.test_fraction < 1.0:
            raise TaskError(f"{task} task: parameter 'test_fraction' must be between 0 and 1")
        for name in ("budget_tokens", "subset_questions", "smoke_questions"):
            if getattr(p, name) < 1:
                raise TaskError(f"{task} task: parameter {name!r} must be >= 1")
    return p


def _coerce(task: str, key: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is list:
        if isinstance(value, (str, int)):
            value = [value]
        ok = isinstance(value, (list, tuple))
        value = list(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise TaskError(f"{task} task: parameter {key!r} must be {kind.__name__}, not {type(value).__name__}")
    return value


def check_fidelity(fidelity: str) -> None:
    if fidelity not in FIDELITIES:
        raise TaskError(f"unknown fidelity {fidelity!r} (use smoke, subset or full)")


def data_root() -> Path:
    """$MEMARCH_DATA, else ../shared/data beside the repository (or beside the working dir)."""
    env = os.environ.get("MEMARCH_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for base in (repo, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data"


def locate(task: str, path: str, default_rel: str, names: tuple[str, ...], download: str) -> Path:
    """Resolve a data file: `path` may be the file or a directory holding one of `names`."""
    base = Path(path).expanduser() if path else data_root() / default_rel
    candidates = [base] if base.is_file() else [base / n for n in names]
    for c in candidates:
        if c.is_file():
            return c
    raise TaskError(f"{task} data not found at {base} (set task param 'path' or MEMARCH_DATA; download: {download})")
