"""Sandbox backends behind the one `Sandbox` protocol, and the registry that builds them.

- ``process``: the harness in a fenced child process (the default; needs nothing extra).
- ``forkserver``: the same fences, forked from a warm server that has already imported
  numpy, ``design_space`` and the harness (fastest).
- ``docker``: a throwaway container per job (needs a Docker engine and an image built with
  ``memarch sandbox build``).

`get_sandbox` keeps one instance per backend and options in each process, so a Ray worker
reuses its warm fork server and its docker client from one evaluation to the next.
"""
from __future__ import annotations

import json
import threading
from typing import Any

from sandboxes.backends.base import Sandbox


def _process(**options: Any) -> Sandbox:
    from sandboxes.backends.process import ProcessSandbox
    return ProcessSandbox(**options)


def _forkserver(**options: Any) -> Sandbox:
    from sandboxes.backends.forkserver import ForkserverSandbox
    return ForkserverSandbox(**options)


def _docker(**options: Any) -> Sandbox:
    from sandboxes.backends.docker import DockerSandbox
    return DockerSandbox(**options)


BACKENDS: dict[str, Any] = {"process": _process, "forkserver": _forkserver, "docker": _docker}
_instances: dict[str, Sandbox] = {}
_lock = threading.Lock()


def get_sandbox(name: str, **options: Any) -> Sandbox:
    """The sandbox for backend `name` (built once per process for the same options)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    key = name + json.dumps(options, sort_keys=True, default=str)
    with _lock:
        if key not in _instances:
            _instances[key] = BACKENDS[name](**options)
        return _instances[key]


__all__ = ["BACKENDS", "Sandbox", "get_sandbox"]
