"""The model bandit picks up on resume exactly where it stopped.

A campaign with two LLM models (a real OpenAI-compatible server on 127.0.0.1, through litellm)
saves the bandit's whole state — counts, costs and its generator — in the store after every
reward. The driver is then dropped as a kill would drop it, and a resumed campaign must hold
the very same bandit (not one re-seeded, nor one rebuilt from the candidates' history), and go
on learning from it.
"""
from __future__ import annotations

import json
import os
import re


from evolve.campaign import Campaign
from evolve.campaign_setup import BANDIT_KEY
from evolve.config import parse_config
from evolve.store import Store

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

KNOB = re.compile(r"^([A-Z][A-Z0-9_]*) = (\d+)\b.*$", re.MULTILINE)


def bump(body: dict) -> dict:
    prompt = body["messages"][1]["content"]
    code = re.search(r"## Current program \(\w+\)\n```python\n(.*?)\n```", prompt, re.DOTALL).group(1)
    name, value = KNOB.search(code).groups()
    step = 1 + sum(map(ord, prompt)) % 9 + len(body["messages"])
    return {"content": f"<<<<<<< SEARCH\n{KNOB.search(code).group(0)}\n=======\n{name} = {int(value) + step}\n"
                       f">>>>>>> REPLACE\nNOTE: {name} + {step}"}



def config(base_url: str, evaluations: int):
    return parse_config({
        "name": "bandit", "seed": 9,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke"]},
        "seeds": ["bm25_rag", "recency_window"], "operators": [{"name": "llm_edit"}],
        "llm": {"models": [{"model": "openai/big", "api_base": base_url, "price_in": 3, "price_out": 15},
                           {"model": "openai/small", "api_base": base_url, "price_in": 0.2, "price_out": 0.8}],
                "bandit": True, "max_fix_attempts": 1},
        "budget": {"evaluations": evaluations}, "parallel": 1, "sandbox": {"limits": {"wall_seconds": 30}},
    })


def test_the_bandit_state_survives_a_resume(openai_server, tmp_path, local_ray):
    server = openai_server(bump)
    first = Campaign.create(config(server.base_url, 7), tmp_path)
    first.run()
    saved = json.loads(first.store.meta(BANDIT_KEY))
    children = [c for c in first.store.candidates() if c.meta.get("arm")]
    # every child is a pull, and so is every proposal that failed (a reward of 0)
    assert children and sum(a["pulls"] for a in saved["arms"].values()) >= len(children)
    assert saved == json.loads(json.dumps(first.bandit.to_json()))  # the store holds the latest state
    first.store.close()  # the driver goes away

    store = Store.open(tmp_path / "bandit")
    resumed = Campaign(config(server.base_url, 10), tmp_path / "bandit", store)
    state = json.loads(json.dumps(resumed.bandit.to_json()))
    assert state["arms"] == saved["arms"]
    assert state["rng"] == saved["rng"]  # the same next draws, not a re-seeded generator
    resumed.run()
    after = json.loads(store.meta(BANDIT_KEY))
    assert sum(a["pulls"] for a in after["arms"].values()) > sum(a["pulls"] for a in saved["arms"].values())
