"""Record/replay: a recorded session answers again, identically, with the server gone."""
from __future__ import annotations

import json

import pytest

from evolve.llm import Cassette, CassetteError, CassetteMiss, LLMClient, LLMError, ModelSpec


def ask(client, text):
    return client.complete([{"role": "user", "content": text}], purpose="t")


def test_record_then_replay_with_the_server_stopped(openai_server, tmp_path):
    server = openai_server(["first answer", "second answer", {"status": 503, "content": "busy"}])
    path = tmp_path / "calls.jsonl"
    models = [ModelSpec("openai/m", api_base=server.base_url, num_retries=0, price_in=2.0, price_out=8.0)]
    recorder = LLMClient(models, cassette=Cassette(path, "record"))
    recorded = [ask(recorder, "same prompt"), ask(recorder, "same prompt")]
    with pytest.raises(LLMError, match="busy"):
        ask(recorder, "another prompt")
    server.stop()
    assert len(path.read_text().splitlines()) == 3

    calls = []
    player = LLMClient(models, cassette=Cassette(path, "replay"), on_call=calls.append)
    replayed = [ask(player, "same prompt"), ask(player, "same prompt")]
    # the n-th ask of a prompt gets the n-th recorded answer, with the recorded tokens and dollars
    assert [r.text for r in replayed] == ["first answer", "second answer"]
    for rec, rep in zip(recorded, replayed):
        assert (rep.prompt_tokens, rep.completion_tokens, rep.cost_usd, rep.latency_s) == \
               (rec.prompt_tokens, rec.completion_tokens, rec.cost_usd, rec.latency_s)
        assert rep.replayed
    with pytest.raises(LLMError, match="busy"):
        ask(player, "another prompt")  # a recorded failure fails again
    assert [c["replayed"] for c in calls] == [True, True, True]
    assert player.spent_usd == pytest.approx(recorder.spent_usd)
    with pytest.raises(CassetteMiss, match="answer #3") as miss:
        ask(player, "same prompt")
    assert recorded[0].prompt_hash in str(miss.value)

    # a resumed replay first counts the calls its earlier session made
    resumed = Cassette(path, "replay")
    resumed.mark_asked("openai/m", recorded[0].prompt_hash)
    again = LLMClient(models, cassette=resumed)
    assert ask(again, "same prompt").text == "second answer"


def test_a_prompt_never_recorded_names_its_hash(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"model": "openai/m", "prompt_hash": "abc", "text": "x", "prompt_tokens": 1,
                                "completion_tokens": 1, "cost_usd": 0.0, "latency_s": 0.1}) + "\n")
    client = LLMClient([ModelSpec("openai/m")], cassette=Cassette(path, "replay"))
    with pytest.raises(CassetteMiss, match="never recorded") as miss:
        ask(client, "new prompt")
    assert client.cassette is not None
    from evolve.llm import prompt_hash
    assert prompt_hash([{"role": "user", "content": "new prompt"}]) in str(miss.value)


def test_bad_cassettes_fail_with_one_line_messages(tmp_path):
    with pytest.raises(CassetteError, match="no LLM cassette at"):
        Cassette(tmp_path / "missing.jsonl", "replay")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model": "m", "prompt_hash": "h", "text": "x"}\nnot json\n')
    with pytest.raises(CassetteError, match=r"bad.jsonl:2: not a cassette entry"):
        Cassette(bad, "replay")
    with pytest.raises(ValueError, match="cassette mode must be one of"):
        Cassette(bad, "rewind")


def test_a_torn_last_line_from_a_killed_recording_is_dropped(openai_server, tmp_path):
    server = openai_server(["one", "two"])
    path = tmp_path / "torn.jsonl"
    models = [ModelSpec("openai/m", api_base=server.base_url, num_retries=0)]
    ask(LLMClient(models, cassette=Cassette(path, "record")), "a")
    with path.open("a") as fh:
        fh.write('{"model": "openai/m", "prompt_hash": "x", "te')  # killed mid-write
    assert ask(LLMClient(models, cassette=Cassette(path, "replay")), "a").text == "one"
    ask(LLMClient(models, cassette=Cassette(path, "record")), "b")  # resumes recording cleanly
    player = LLMClient(models, cassette=Cassette(path, "replay"))
    assert [ask(player, "a").text, ask(player, "b").text] == ["one", "two"]
