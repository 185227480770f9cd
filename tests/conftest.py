"""Shared pytest fixtures."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

# litellm fetches a price list over the network at import unless told not to: tests never do.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai_server import OpenAIServer, Script  # noqa: E402 - needs the path above


@pytest.fixture
def openai_server() -> Iterator[Callable[[Script], OpenAIServer]]:
    """Start scripted OpenAI-compatible servers on 127.0.0.1: `server = openai_server([...])`."""
    started: list[OpenAIServer] = []

    def start(script: Script) -> OpenAIServer:
        server = OpenAIServer(script).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray of 2 CPUs for a test module (campaigns started inside join it)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             object_store_memory=100 * 2**20)
    yield
    ray.shutdown()
