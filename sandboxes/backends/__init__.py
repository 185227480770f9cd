"""Sandbox backends behind the one `Sandbox` protocol."""
from __future__ import annotations

from sandboxes.backends.base import Sandbox
from sandboxes.backends.process import ProcessSandbox

BACKENDS: dict[str, type] = {"process": ProcessSandbox}


def get_sandbox(name: str) -> Sandbox:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r} (known: {', '.join(sorted(BACKENDS))})") from None
