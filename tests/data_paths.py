"""Where the real benchmark data lives for tests: $MEMARCH_DATA, else ../shared/data beside the repo."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("MEMARCH_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def need(rel: str) -> Path:
    """The data path, or skip the test with the reason it is missing."""
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"benchmark data {path} is absent (see README: where to download it)")
    return path
