"""A campaign whose children come from an LLM served by a real OpenAI-compatible server on
127.0.0.1, driven through litellm: bad answers (no edits, invalid code) are recovered from,
good edits become evaluated candidates, every call is recorded, and a recorded campaign
replays to the same candidates with the server gone."""
import os
import re
from collections import Counter


from evolve.campaign import Campaign
from evolve.config import parse_config

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import litellm  # noqa: E402,F401 - required, as above

# Ray workers inherit the environment the local Ray started with, so the test key is set first.
os.environ.setdefault("MEMARCH_TEST_KEY", "sk-local-test")
KNOB = re.compile(r"^(TOP_K|WINDOW) = (\d+)\s*$", re.MULTILINE)


def scripted_model(request):
    """Deterministic in the request: the same prompt always gets the same answer."""
    text = "\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str))
    found = KNOB.findall(text)
    if not found:
        return "I would improve the retrieval."
    name, value = found[-1]
    value = int(value)
    h = sum(map(ord, text)) % 5
    if h == 0:
        return "Here is my idea: make retrieval smarter. (no edit blocks)"
    if h == 1:
        return (f"<<<<<<< SEARCH\n{name} = {value}\n=======\nimport os\n{name} = {value}\n>>>>>>> REPLACE\n"
                "note: read settings from the environment")
    new = max(1, value - 1 - h) if value > 3 else value + h
    return (f"```\n<<<<<<< SEARCH\n{name} = {value}\n=======\n{name} = {new}\n>>>>>>> REPLACE\n```\n"
            f"Change note: {name} {value} -> {new} to trade recall for tokens")



def config(name, base_url, cassette, mode):
    return parse_config({
        "name": name, "seed": 11,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke", "full"]},
        "seeds": ["bm25_rag", "recency_window"],
        "operators": [{"name": "llm_edit"}],
        "llm": {"models": [{"model": "openai/scripted", "api_base": base_url, "price_in": 1.0, "price_out": 2.0,
                            "api_key_env": "MEMARCH_TEST_KEY"}],
                "cassette": str(cassette), "cassette_mode": mode, "max_fix_attempts": 2},
        "budget": {"evaluations": 9}, "parallel": 1,
    })


def snapshot(store):
    return [(c.code, c.parents, c.operator, c.note) for c in store.candidates()]


def test_llm_campaign_recovers_records_and_replays(tmp_path, local_ray, openai_server, monkeypatch):
    monkeypatch.setenv("MEMARCH_TEST_KEY", "sk-local-test")
    server = openai_server(scripted_model)
    cassette = tmp_path / "calls.jsonl"
    first = Campaign.create(config("llm1", server.base_url, cassette, "record"), tmp_path / "runs")
    assert first.run() == "evaluation budget spent"
    store = first.store
    children = [c for c in store.candidates() if c.operator == "llm_edit"]
    assert len(children) == 7
    for child in children:
        ev = store.evaluation(child.id, "full")
        assert ev is not None and ev.status == "ok", child.id
        assert "import os" not in child.code
        assert child.note and "->" in child.note
    # bad answers happened and were answered with the problems, within the fix budget
    fixes = [r for r in server.requests if "SEARCH" in r["messages"][-1]["content"] and len(r["messages"]) > 2]
    assert fixes, "no fix round-trip happened"
    calls = store.conn.execute("SELECT COUNT(*), SUM(cost_usd), COUNT(candidate_id) FROM llm_calls").fetchone()
    assert calls[0] == len(server.requests) > len(children)
    assert calls[1] > 0  # priced from the config's per-token prices
    assert calls[2] >= len(children)
    assert cassette.is_file()
    # the key travels by env-var name only
    assert all("sk-local-test" not in str(r) for r in store.conn.execute("SELECT request FROM llm_calls"))

    server.stop()
    replay = Campaign.create(config("llm2", server.base_url, cassette, "replay"), tmp_path / "runs")
    reason = replay.run()
    if reason != "evaluation budget spent":  # say why the replay diverged from the recording
        kinds = [k for _t, k, _d in replay.store.events()]
        errors = [d.get("error") for _t, k, d in replay.store.events() if k.startswith("operator_")][:3]
        raise AssertionError(f"replay ended {reason!r}: events {dict(Counter(kinds))}, first errors {errors}, "
                             f"recorded {snapshot(store)[len(snapshot(replay.store)):][:1]}")
    assert snapshot(replay.store) == snapshot(store)

    # a cassette that lacks calls the run makes ends the replay at the first miss, naming it
    lines = cassette.read_text().splitlines(keepends=True)
    cassette.write_text("".join(lines[:2]))
    short = Campaign.create(config("llm3", server.base_url, cassette, "replay"), tmp_path / "runs")
    reason = short.run()
    assert reason.startswith("replay left its recording") and "has no answer" in reason, reason
    assert sum(1 for _e in short.store.events("operator_crashed")) == 1


def test_campaign_with_an_llm_answerer(tmp_path, local_ray, openai_server, monkeypatch):
    server = openai_server(lambda request: "I do not know")
    cfg = parse_config({
        "name": "ans", "seed": 1,
        "task": {"name": "synthetic", "params": {"conversations": 1}, "cascade": ["smoke"],
                 "answer": {"model": "openai/answerer", "api_base": server.base_url,
                            "api_key_env": "MEMARCH_TEST_KEY", "workers": 2}},
        "seeds": ["bm25_rag"], "budget": {"evaluations": 1}, "parallel": 1,
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    campaign.run()
    (ev,) = campaign.store.evaluations("smoke")
    assert ev.status == "ok", ev.error
    assert ev.metrics.get("answer_errors", 0) == 0
    assert ev.metrics["answer_calls"] == len(server.requests) > 0
    assert 0.0 <= ev.metrics["f1"] < 0.5  # "I do not know" is mostly wrong
    # the key, named by env var, reached the model server and nothing else
    assert all(h.get("authorization") == "Bearer sk-local-test" for h in server.headers)
    assert "sk-local-test" not in (campaign.store.meta("config") or "")
