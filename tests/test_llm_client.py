"""The litellm client against a real OpenAI-compatible server on 127.0.0.1."""
from __future__ import annotations

import random
import time

import pytest

from evolve.llm import Cassette, LLMBudgetExceeded, LLMClient, LLMError, ModelSpec, prompt_hash

MESSAGES = [{"role": "system", "content": "You improve memory programs."},
            {"role": "user", "content": "Make TOP_K larger."}]


def spec(server, name="test-model", **kw) -> ModelSpec:
    return ModelSpec(model=f"openai/{name}", api_base=server.base_url, num_retries=0, **kw)


def test_call_through_litellm_with_config_prices_and_recorded_call(openai_server):
    server = openai_server([{"content": "NOTE: ok", "prompt_tokens": 1200, "completion_tokens": 300}])
    calls = []
    client = LLMClient([spec(server, temperature=0.2, max_tokens=777, price_in=3.0, price_out=15.0)],
                       on_call=calls.append)
    reply = client.complete(MESSAGES, purpose="llm_edit")
    assert reply.text == "NOTE: ok"
    assert (reply.prompt_tokens, reply.completion_tokens) == (1200, 300)
    assert reply.cost_usd == pytest.approx((1200 * 3.0 + 300 * 15.0) / 1e6)
    assert reply.cost_known and not reply.replayed
    assert reply.prompt_hash == prompt_hash(MESSAGES)
    # the server saw what production sends
    (request,) = server.requests
    assert request["model"] == "test-model"
    assert request["messages"] == MESSAGES
    assert request["temperature"] == 0.2 and request["max_tokens"] == 777
    # the call was handed to the recorder with everything the store keeps
    (record,) = calls
    assert record["model"] == "openai/test-model" and record["purpose"] == "llm_edit"
    assert record["request"] == MESSAGES and record["response"] == "NOTE: ok"
    assert record["prompt_tokens"] == 1200 and record["cost_usd"] == pytest.approx(reply.cost_usd)
    assert record["error"] is None and record["latency_s"] > 0
    assert client.spent_usd == pytest.approx(reply.cost_usd) and client.calls == 1


def test_litellm_price_table_when_it_knows_the_model(openai_server):
    server = openai_server([{"content": "hi", "prompt_tokens": 1_000_000, "completion_tokens": 0}])
    reply = LLMClient([spec(server, name="gpt-4o-mini")]).complete(MESSAGES, purpose="t")
    # gpt-4o-mini input is priced in litellm's bundled table (well under $1 per 1M tokens)
    assert reply.cost_known and 0.01 < reply.cost_usd < 1.0


def test_unknown_model_without_prices_costs_zero_and_says_so(openai_server):
    server = openai_server(["hi"])
    reply = LLMClient([spec(server, name="my-local-llama")]).complete(MESSAGES, purpose="t")
    assert reply.cost_usd == 0.0 and not reply.cost_known


def test_provider_error_is_recorded_and_raised(openai_server):
    server = openai_server([{"status": 500, "content": "model overloaded"}])
    calls = []
    client = LLMClient([spec(server)], on_call=calls.append)
    with pytest.raises(LLMError, match="model overloaded"):
        client.complete(MESSAGES, purpose="llm_edit")
    assert len(calls) == 1 and "model overloaded" in calls[0]["error"] and calls[0]["response"] is None


def test_blocking_calls_from_a_thread_pool_run_concurrently(openai_server):
    from concurrent.futures import ThreadPoolExecutor

    server = openai_server([{"content": "done", "delay_s": 0.4}])
    client = LLMClient([spec(server, price_in=1.0, price_out=1.0)])
    warm = client.complete(MESSAGES, purpose="warm-up")
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda i: client.complete([{"role": "user", "content": f"t{i}"}], purpose="t"),
                                range(4)))
    assert [r.text for r in replies] == ["done"] * 4
    assert time.perf_counter() - start < 1.2
    # the dollar tally is not lost to races between threads
    assert client.calls == 5
    assert client.spent_usd == pytest.approx(warm.cost_usd + sum(r.cost_usd for r in replies)) and warm.cost_usd > 0


def test_dollar_budget_stops_further_calls(openai_server):
    server = openai_server([{"content": "x", "prompt_tokens": 1000, "completion_tokens": 1000}])
    client = LLMClient([spec(server, price_in=1.0, price_out=1.0)], max_usd=0.001)
    client.complete(MESSAGES, purpose="t")  # $0.002: over budget after this one
    with pytest.raises(LLMBudgetExceeded, match="budget"):
        client.complete(MESSAGES, purpose="t")
    assert len(server.requests) == 1


def test_missing_key_env_fails_at_start_and_a_set_one_is_sent(openai_server, monkeypatch, tmp_path):
    server = openai_server(["x"])
    monkeypatch.delenv("MEMARCH_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match="env var MEMARCH_TEST_KEY is not set"):
        LLMClient([spec(server, api_key_env="MEMARCH_TEST_KEY")])
    monkeypatch.setenv("MEMARCH_TEST_KEY", "sk-local-test")
    tape = tmp_path / "k.jsonl"
    client = LLMClient([spec(server, api_key_env="MEMARCH_TEST_KEY")], cassette=Cassette(tape, "record"))
    assert client.complete(MESSAGES, purpose="t").text == "x"
    assert server.headers[0]["authorization"] == "Bearer sk-local-test"
    assert "sk-local-test" not in tape.read_text()  # keys are never written down
    monkeypatch.delenv("MEMARCH_TEST_KEY")
    replay = LLMClient([spec(server, api_key_env="MEMARCH_TEST_KEY")], cassette=Cassette(tape, "replay"))
    assert replay.complete(MESSAGES, purpose="t").text == "x"  # a replay needs no key


def test_weighted_pick_is_seeded_and_respects_zero_weight():
    client = LLMClient([ModelSpec("openai/a", weight=3.0), ModelSpec("openai/b", weight=1.0),
                        ModelSpec("openai/c", weight=0.0)])
    picks = [client.pick(random.Random(7)) for _ in range(3)]
    assert len(set(picks)) == 1  # same seed, same pick
    rng = random.Random(1)
    counts = {m: 0 for m in client.models}
    for _ in range(2000):
        counts[client.pick(rng)] += 1
    assert counts["openai/c"] == 0
    assert 2.5 < counts["openai/a"] / counts["openai/b"] < 3.6


def test_config_errors_are_one_line():
    with pytest.raises(ValueError, match="at least one"):
        LLMClient([])
    with pytest.raises(ValueError, match="unique"):
        LLMClient([ModelSpec("openai/a"), ModelSpec("openai/a")])
    with pytest.raises(ValueError, match="no LLM model named 'x'"):
        LLMClient([ModelSpec("openai/a")]).spec("x")


@pytest.mark.filterwarnings("ignore::UserWarning")  # litellm's own pydantic schema warning on streams
def test_the_test_server_streams_server_sent_events_to_litellm(openai_server):
    from evolve.llm.client import _litellm

    text = "<<<<<<< SEARCH\nTOP_K = 10\n=======\nTOP_K = 12\n>>>>>>> REPLACE\nNOTE: more items"
    server = openai_server([text])
    chunks = _litellm().completion(model="openai/test-model", api_base=server.base_url, api_key="x",
                                   messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert server.requests[0]["stream"] is True


def test_identical_prompts_link_each_call_to_its_own_child(openai_server, tmp_path):
    # Two proposals in flight can send the very same prompt (same parent, same inspirations):
    # each call must still be linked to the child it made, not both to the first.
    from evolve.store import Store

    server = openai_server([{"content": "one"}, {"content": "two"}])
    store = Store.create(tmp_path / "run", "name: t\n")
    client = LLMClient([spec(server)], on_call=store.add_llm_call)
    first = client.complete(MESSAGES, purpose="llm_edit")
    second = client.complete(MESSAGES, purpose="llm_edit")
    assert first.prompt_hash == second.prompt_hash and first.call_id != second.call_id
    a = store.add_candidate("A = 1\n", "h1", (), "llm_edit")
    b = store.add_candidate("A = 2\n", "h2", (), "llm_edit")
    store.attach_llm_call_ids(a.id, [first.call_id])
    store.attach_llm_call_ids(b.id, [second.call_id])
    assert [c["response"] for c in store.llm_calls_of(a.id)] == ["one"]
    assert [c["response"] for c in store.llm_calls_of(b.id)] == ["two"]
