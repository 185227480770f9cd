"""The LLM answerer and judge: turn a transcript's recalls into answers and score them.

Runs on the trusted side, after the sandbox: the answerer reads the program's
``INSTRUCTIONS`` (reported in the transcript) and the items it recalled within the budget,
and answers the question in a few words; token F1 and exact match follow LoCoMo
(sandboxes/answer_metrics.py); an optional judge says whether the answer matches the gold.
Scores move a lot with the prompt, so every prompt is versioned and its id
(``answer-v1:<sha256 prefix>``) is reported with the scores it produced.

The model is reached through litellm (imported lazily, with its price-list download off),
so any OpenAI-compatible endpoint works: ``model="openai/NAME", api_base=...``.
"""
from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sandboxes.answer_metrics import score_answer
from sandboxes.scoring import score_transcript
from sandboxes.tasks.base import Stream

ANSWER_PROMPT = ("answer", 1, """{instructions}

Memory:
{memory}

Question: {question}
Answer in a short phrase of a few words, using words from the memory where possible.
If the memory does not contain the answer, reply exactly: Not mentioned in the conversation.
Answer:""")

JUDGE_PROMPT = ("judge", 1, """You are grading an answer to a question about a user's past conversations.
Question: {question}
Correct answer: {gold}
Answer to grade: {answer}
Reply "yes" if the answer to grade means the same as the correct answer or contains it
(extra detail is fine; a different date, name or number is not). If the correct answer says
the information is not available, reply "yes" only if the answer to grade also says so.
Otherwise reply "no". Reply with one word: yes or no.""")

ABSTAIN_GOLD = "The information is not available in the conversation."


def prompt_id(prompt: tuple[str, int, str]) -> str:
    name, version, text = prompt
    return f"{name}-v{version}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def prompt_id_number(pid: str) -> float:
    """The prompt hash as a float, so it can travel in a Result's float-valued metrics."""
    return float(int(pid.rsplit(":", 1)[1][:12], 16))


@dataclass(frozen=True)
class AnswerConfig:
    model: str  # litellm model name, e.g. "openai/gpt-4o-mini"
    api_base: str = ""
    api_key: str = ""  # "" = litellm's usual environment variables
    judge_model: str = ""  # "" = no judge
    max_tokens: int = 48
    temperature: float = 0.0
    workers: int = 4
    timeout_s: float = 60.0
    retries: int = 2
    memory_chars: int = 16000  # what the answerer reads of the recall, at most


@dataclass
class AnswerReport:
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # query id -> answer, f1, em, judge
    prompts: dict[str, str] = field(default_factory=dict)  # role -> prompt id
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    first_error: str = ""

    def metrics(self) -> dict[str, float]:
        out = {"answer_calls": float(self.calls), "answer_tokens": float(self.prompt_tokens + self.completion_tokens),
               "answer_errors": float(self.errors)}
        for role, pid in self.prompts.items():
            out[f"{role}_prompt_id"] = prompt_id_number(pid)
        return out


def _litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


class Answerer:
    def __init__(self, config: AnswerConfig) -> None:
        self.config = config
        self._llm = _litellm()

    def _complete(self, model: str, prompt: str) -> tuple[str, int, int]:
        kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}],
                                  "max_tokens": self.config.max_tokens, "temperature": self.config.temperature,
                                  "timeout": self.config.timeout_s, "max_retries": 0}  # retries are ours
        if self.config.api_base:
            kwargs["api_base"] = self.config.api_base
        if self.config.api_key:
            kwargs["api_key"] = self.config.api_key
        for attempt in range(self.config.retries + 1):
            try:
                resp = self._llm.completion(**kwargs)
                break
            except Exception:  # noqa: BLE001 - transient server errors: back off and retry
                if attempt == self.config.retries:
                    raise
                time.sleep(0.5 * 2 ** attempt)
        usage = getattr(resp, "usage", None)
        text = resp.choices[0].message.content or ""
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        return text.strip(), prompt_tokens, int(getattr(usage, "completion_tokens", 0) or 0)

    def answer_prompt(self, instructions: str, items: list[list[Any]], question: str) -> str:
        memory = "\n".join(f"- {text}" for text, _ids, _score in items)[: self.config.memory_chars]
        return ANSWER_PROMPT[2].format(instructions=instructions.strip(), memory=memory or "(nothing recalled)",
                                       question=question)

    def run(self, stream: Stream, transcript: dict[str, Any]) -> AnswerReport:
        report = AnswerReport(prompts={"answer": prompt_id(ANSWER_PROMPT)})
        if self.config.judge_model:
            report.prompts["judge"] = prompt_id(JUDGE_PROMPT)
        instructions = str(transcript.get("instructions", ""))

        def one(qid: str) -> tuple[str, dict[str, Any], int, int, int, str]:
            gold = stream.gold[qid]
            question = stream.query_text.get(qid, "")
            calls = p_tok = c_tok = 0
            try:
                answer, p, c = self._complete(self.config.model, self.answer_prompt(
                    instructions, transcript["queries"][qid]["items"], question))
                calls, p_tok, c_tok = 1, p, c
                row: dict[str, Any] = {"answer": answer,
                                       **score_answer(answer, gold.answer, gold.category, gold.abstain)}
                if self.config.judge_model:
                    verdict, p, c = self._complete(self.config.judge_model, JUDGE_PROMPT[2].format(
                        question=question, gold=ABSTAIN_GOLD if gold.abstain else gold.answer, answer=answer))
                    calls, p_tok, c_tok = calls + 1, p_tok + p, c_tok + c
                    row["judge"] = float(verdict.strip().lower().startswith("yes"))
                return qid, row, calls, p_tok, c_tok, ""
            except Exception as exc:  # noqa: BLE001 - one failed call scores that question 0, never the run
                row = {"answer": "", "f1": 0.0, "em": 0.0, **({"judge": 0.0} if self.config.judge_model else {})}
                return qid, row, calls, p_tok, c_tok, f"{type(exc).__name__}: {exc}"

        with ThreadPoolExecutor(max_workers=max(1, self.config.workers)) as pool:
            for qid, row, calls, p_tok, c_tok, err in pool.map(one, list(stream.gold)):
                report.answers[qid] = row
                report.calls += calls
                report.prompt_tokens += p_tok
                report.completion_tokens += c_tok
                if err:
                    report.errors += 1
                    report.first_error = report.first_error or err[:500]
        return report


def score_with_answers(stream: Stream, transcript: dict[str, Any],
                       config: AnswerConfig) -> tuple[dict[str, Any], AnswerReport]:
    """score_transcript plus answer F1 / EM / judge; metrics carry the prompt ids and the spend."""
    report = Answerer(config).run(stream, transcript)
    scored = score_transcript(stream, transcript, report.answers)
    scored["metrics"].update(report.metrics())
    return scored, report
