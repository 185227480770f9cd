"""What a test does when something it needs is missing: skip with the reason on a developer's
machine, fail in CI (env CI=true), where .ci/run provides everything and a skip would hide a
broken setup."""
from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip (or, in CI, fail) the running test because `reason` is missing."""
    if in_ci():
        pytest.fail(f"CI needs it: {reason}", pytrace=False)
    pytest.skip(reason)
