"""A campaign whose LLM is a real local OpenAI-compatible server, reached through litellm.

The server answers like a model would: some answers are malformed, some edit the program
into something the validator rejects, some are good. The campaign must recover from the
bad ones, keep the good ones, record every call with tokens and dollars, and, replayed
from its cassette with the server gone, make exactly the same candidates.
"""
from __future__ import annotations

import os
import re

import pytest

from design_space.validate import validate_source
from evolve.campaign import Campaign
from evolve.config import parse_config

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

KNOB = re.compile(r"^([A-Z][A-Z0-9_]*) = (\d+)\b.*$", re.MULTILINE)


class ScriptedModel:
    """Answers chat requests like a model that is right one time in three on its first try."""

    def __init__(self) -> None:
        self.firsts = 0

    def __call__(self, body: dict) -> dict:
        messages = body["messages"]
        prompt = messages[1]["content"]
        if "## Program A" in prompt:
            return {"content": self._merge(prompt)}
        program = re.search(r"## Current program \(\w+\)\n```python\n(.*?)\n```", prompt, re.DOTALL).group(1)
        name, value = KNOB.search(program).groups()
        line = KNOB.search(program).group(0)
        new = f"{name} = {int(value) + 1 + self.firsts % 5}"
        attempt = (len(messages) - 2) // 2
        if attempt == 0:
            self.firsts += 1
            kind = self.firsts % 3
            if kind == 1:
                return {"content": f"I would change {name} a little; that should help recall."}  # no edits
            if kind == 2:
                return {"content": f"<<<<<<< SEARCH\n{line}\n=======\nimport os\n{name} = int(os.environ.get("
                                   f"'K', '{value}'))\n>>>>>>> REPLACE\nNOTE: make {name} configurable"}
            return {"content": f"```python\n<<<<<<< SEARCH\n{line}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"
                               f"NOTE: {name} {value} -> {new.split(' = ')[1]} to recall more evidence"}
        if "import os" in messages[-1]["content"]:  # fixing the forbidden import
            return {"content": f"<<<<<<< SEARCH\nimport os\n{name} = int(os.environ.get('K', '{value}'))\n=======\n"
                               f"{new}\n>>>>>>> REPLACE\nNOTE: {name} as a literal knob, raised"}
        return {"content": f"<<<<<<< SEARCH\n{line}\n=======\n{new}\n>>>>>>> REPLACE\nNOTE: raise {name}"}

    @staticmethod
    def _merge(prompt: str) -> str:
        a = re.search(r"## Program A \(\w+\)\n```python\n(.*?)\n```", prompt, re.DOTALL).group(1)
        name, value = KNOB.search(a).groups()
        merged = a.replace(KNOB.search(a).group(0), f"{name} = {int(value) * 2}", 1)
        return f"```python\n{merged}\n```\nNOTE: A's retrieval with B's larger {name}"



def config(name: str, base_url: str, cassette: str, mode: str):
    return parse_config({
        "name": name, "seed": 5,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke"]},
        "seeds": ["bm25_rag", "recency_window"],
        "operators": [{"name": "llm_edit", "weight": 3}, {"name": "crossover", "weight": 1}],
        "llm": {"models": [{"model": "openai/coder-large", "api_base": base_url, "price_in": 3, "price_out": 15},
                           {"model": "openai/coder-small", "api_base": base_url, "price_in": 0.2, "price_out": 0.8}],
                "bandit": True, "max_fix_attempts": 2, "cassette": cassette, "cassette_mode": mode},
        "budget": {"evaluations": 7}, "parallel": 1,
        "sandbox": {"limits": {"wall_seconds": 20}},
    })


def history(store):
    return [(c.id, c.operator, c.parents, c.note, c.code) for c in store.candidates()]


def test_campaign_recovers_from_bad_answers_and_replays_identically(openai_server, tmp_path, local_ray):
    server = openai_server(ScriptedModel())
    cassette = str(tmp_path / "llm.jsonl")
    recorded = Campaign.create(config("rec", server.base_url, cassette, "record"), tmp_path / "runs")
    assert recorded.run() == "evaluation budget spent"
    server.stop()

    store = recorded.store
    children = [c for c in store.candidates() if not c.operator.startswith("seed:")]
    assert len(children) == 5
    assert {c.operator for c in children} <= {"llm_edit", "crossover"}
    for child in children:
        assert validate_source(child.code) == [] and "import os" not in child.code
        assert child.note and child.code not in (store.candidate(p).code for p in child.parents)
    calls = store.conn.execute("SELECT purpose, cost_usd, prompt_tokens, error FROM llm_calls").fetchall()
    assert len(calls) == len(server.requests)  # every call recorded
    assert any(p.endswith(".fix") for p, *_ in calls)  # bad answers were sent back and fixed
    assert all(cost > 0 and tokens > 0 for _p, cost, tokens, _e in calls)
    assert store.llm_spend() == pytest.approx(sum(c[1] for c in calls))

    replayed = Campaign.create(config("rep", "http://127.0.0.1:9/v1", cassette, "replay"), tmp_path / "runs")
    assert replayed.run() == "evaluation budget spent"
    assert history(replayed.store) == history(store)
    assert replayed.store.llm_spend() == pytest.approx(store.llm_spend())
