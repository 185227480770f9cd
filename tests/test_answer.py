"""The LLM answerer and judge, driven through litellm against a real loopback OpenAI server."""
from __future__ import annotations

import os
import re
import tempfile

import pytest

from design_space.seeds import seed_source
from openai_server import OpenAIServer
from sandboxes.answer import ANSWER_PROMPT, JUDGE_PROMPT, AnswerConfig, prompt_id, prompt_id_number, score_with_answers
from sandboxes.answer_metrics import exact_match, f1_multi, f1_score, normalize_answer, score_answer
from sandboxes.harness import replay
from sandboxes.job import Job
from sandboxes.tasks import get_task
from sandboxes.wire import write_episodes


def test_locomo_normalisation_and_f1():
    assert normalize_answer("The Cat, and a Dog!") == "cat dog"
    assert f1_score("running dogs", "the dog runs") == 1.0  # Porter stems: run, dog
    assert f1_score("7 May 2023", "May 7, 2023") == 1.0 and exact_match("7 May 2023", "May 7, 2023") == 0.0
    assert f1_score("Paris", "London") == 0.0
    assert f1_multi("painting, hiking", "hiking, swimming") == 0.5
    assert score_answer("beach; mountains", "beach; mountains", "open_domain", False)["f1"] == pytest.approx(2 / 3)
    assert score_answer("Not mentioned in the conversation.", "x", "adversarial", True) == {"f1": 1.0, "em": 1.0}
    assert score_answer("She plays the violin", "x", "adversarial", True)["f1"] == 0.0


def test_prompt_ids_change_with_the_text():
    pid = prompt_id(ANSWER_PROMPT)
    assert re.fullmatch(r"answer-v1:[0-9a-f]{12}", pid)
    assert prompt_id(("answer", 1, ANSWER_PROMPT[2] + " ")) != pid
    assert prompt_id_number(pid) == float(int(pid[-12:], 16))


@pytest.fixture(scope="module")
def run():
    """A real replay of the BM25 seed on the synthetic task: stream, transcript, gold."""
    stream = get_task("synthetic").build({}, "smoke", 0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "stream.jsonl")
        write_episodes(path, stream.episodes)
        transcript = replay(Job(program=seed_source("bm25_rag"), task="synthetic", fidelity="smoke"), path, d)
    return stream, transcript


def test_answerer_and_judge_through_litellm(run):
    stream, transcript = run
    assert transcript["instructions"].startswith("These conversation turns")
    by_question = {stream.query_text[q]: g for q, g in stream.gold.items()}

    def reply(body):
        prompt = body["messages"][0]["content"]
        if prompt.startswith("You are grading"):
            gold = re.search(r"Correct answer: (.*)", prompt).group(1)
            said = re.search(r"Answer to grade: (.*)", prompt).group(1)
            return "yes" if gold == said else "no"
        question = re.search(r"Question: (.*)", prompt).group(1)
        gold = by_question[question]
        return "Not mentioned in the conversation" if gold.abstain else gold.answer

    with OpenAIServer(reply) as server:
        cfg = AnswerConfig(model="openai/reader", judge_model="openai/judge", api_base=server.base_url, api_key="x")
        scored, report = score_with_answers(stream, transcript, cfg)
        requests = list(server.requests)
    n = len(stream.gold)
    assert report.errors == 0 and report.calls == 2 * n and len(requests) == 2 * n
    assert report.prompt_tokens > 0 and report.completion_tokens > 0
    m = scored["metrics"]
    assert m["f1"] == 1.0 and m["em"] == 1.0
    # Abstention golds are judged against "not available"; the reply said "Not mentioned": no match.
    n_abs = sum(g.abstain for g in stream.gold.values())
    assert m["judge"] == pytest.approx(1 - n_abs / n)
    assert m["answer_prompt_id"] == prompt_id_number(prompt_id(ANSWER_PROMPT))
    assert m["judge_prompt_id"] == prompt_id_number(prompt_id(JUDGE_PROMPT))
    assert report.prompts == {"answer": prompt_id(ANSWER_PROMPT), "judge": prompt_id(JUDGE_PROMPT)}
    answer_prompts = [r["messages"][0]["content"] for r in requests if r["model"] == "reader"]
    assert all(p.startswith(transcript["instructions"]) for p in answer_prompts)
    # The answerer reads what the program recalled, nothing else.
    first = next(iter(transcript["queries"].values()))["items"][0][0]
    assert any(first in p for p in answer_prompts)
    assert m["recall"] == score_with_answers.__globals__["score_transcript"](stream, transcript)["metrics"]["recall"]


def test_failed_calls_score_zero_and_are_counted(run):
    stream, transcript = run
    with OpenAIServer([{"status": 500, "content": "overloaded"}]) as server:
        cfg = AnswerConfig(model="openai/reader", api_base=server.base_url, api_key="x", workers=2, retries=1)
        scored, report = score_with_answers(stream, transcript, cfg)
    assert report.errors == len(stream.gold) and scored["metrics"]["answer_errors"] == len(stream.gold)
    assert len(server.requests) == 2 * len(stream.gold)  # one retry each
    assert scored["metrics"]["f1"] == 0.0 and "InternalServerError" in report.first_error
