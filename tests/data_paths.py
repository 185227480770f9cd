"""Where the real benchmark data lives for tests: $MEMARCH_DATA, else ../shared/data beside the repo.

A missing data set skips the test with the reason on a developer's machine and fails it in CI."""
from __future__ import annotations

import os
from pathlib import Path

from ci import missing

DATA = Path(os.environ.get("MEMARCH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def need(rel: str) -> Path:
    """The data path, or skip (fail in CI) the test with the reason it is missing."""
    path = DATA / rel
    if not path.exists():
        missing(f"benchmark data {path} is absent (set MEMARCH_DATA or place shared/data beside the clone)")
    return path
