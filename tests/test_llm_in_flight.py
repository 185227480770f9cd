"""An LLM campaign with 64 proposals in flight against a real local server that answers after 1 s:
it completes its evaluation budget, the server really had dozens of requests at once, and every
call is recorded and linked to the candidate it made. A dollar budget stops such a campaign with
at most one call's worth past the cap."""
import os
import random
import re

import pytest

from evolve.campaign import Campaign
from evolve.config import ConfigError, parse_config

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

FLOAT = re.compile(r"^([A-Z][A-Z0-9_]*) = (\d+\.\d+)\s*$", re.MULTILINE)


def knob_edit(delay):
    rng = random.Random(0)

    def answer(body):
        user = body["messages"][-1]["content"]
        program = user.split("```python\n", 1)[1].split("\n```", 1)[0]
        name, value = rng.choice(FLOAT.findall(program))
        new = round(rng.uniform(0.05, 3.0), 6)
        return {"content": f"<<<<<<< SEARCH\n{name} = {value}\n=======\n{name} = {new}\n>>>>>>> REPLACE\n"
                           f"NOTE: {name} {value} -> {new}", "delay_s": delay}
    return answer



def config(name, base_url, evaluations, in_flight, **budget):
    return parse_config({
        "name": name, "seed": 3,
        "task": {"name": "synthetic", "params": {"conversations": 1}, "cascade": ["smoke"]},
        "seeds": ["bm25_rag"], "operators": [{"name": "llm_edit"}],
        "llm": {"models": [{"model": "openai/slow", "api_base": base_url, "price_in": 1.0, "price_out": 1.0,
                            "max_tokens": 1000}]},
        "budget": {"evaluations": evaluations, **budget}, "parallel": 2, "parallel_proposals": in_flight,
        "sandbox": {"backend": "forkserver"},
    })


def test_64_proposals_in_flight_complete_the_budget_with_every_call_recorded(tmp_path, local_ray, openai_server):
    server = openai_server(knob_edit(1.0))
    campaign = Campaign.create(config("wide", server.base_url, 129, 64), tmp_path / "runs")
    assert campaign.run() == "evaluation budget spent"
    store = campaign.store
    children = [c for c in store.candidates() if c.operator == "llm_edit"]
    assert len(children) == 128 and store.count_candidates() == 129
    assert server.in_flight_max >= 32  # one model, dozens of its answers awaited at once
    rows = store.conn.execute("SELECT COUNT(*), COUNT(candidate_id), SUM(error != '') FROM llm_calls").fetchone()
    assert rows[0] == len(server.requests) == 128 and rows[2] == 0
    assert rows[1] == 128  # each call is linked to the child it made
    assert {len(store.llm_calls_of(c.id)) for c in children} == {1}
    done = {d["candidate"] for _t, _k, d in store.events("done")}
    assert {c.id for c in children} <= done
    assert campaign.client.spent_usd == pytest.approx(store.llm_totals()["cost_usd"])


def test_a_dollar_budget_bounds_a_wide_campaign(tmp_path, local_ray, openai_server):
    server = openai_server(knob_edit(0.5))
    # a call: ~2,900 prompt tokens + ~40 reply tokens at $1 per 1M ~= $0.003; it reserves ~$0.004
    campaign = Campaign.create(config("capped", server.base_url, 200, 32, llm_dollars=0.02), tmp_path / "runs")
    assert "LLM budget" in campaign.run()
    totals = campaign.store.llm_totals()
    per_call = totals["cost_usd"] / totals["calls"]
    assert totals["cost_usd"] <= 0.02 + 1.5 * per_call  # 32 in flight, yet at most one call past the cap
    assert totals["calls"] == len(server.requests) < 32


def test_parallel_proposals_needs_parallel_evaluations():
    with pytest.raises(ConfigError, match="parallel_proposals"):
        parse_config({"name": "x", "parallel": 1, "parallel_proposals": 8})
    with pytest.raises(ConfigError, match="unknown key 'llm.models.0.rpm'"):
        parse_config({"name": "x", "operators": [{"name": "llm_edit"}],
                      "llm": {"models": [{"model": "openai/m", "rpm": 10}]}})
    cfg = parse_config({"name": "x", "parallel": 4, "budget": {"llm_tokens": 10000},
                        "operators": [{"name": "llm_edit"}],
                        "llm": {"models": [{"model": "openai/m", "requests_per_minute": 60, "max_in_flight": 8}]}})
    assert cfg.proposals_in_flight == 4 and cfg.budget.llm_tokens == 10000
