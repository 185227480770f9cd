"""llm_edit: an LLM improves one parent, with a bounded loop that feeds its mistakes back.

The prompt (see `prompts`) carries the contract, the parent's code and metrics, a sample
of its failures, the lineage change-log and up to two inspirations from the front. The
answer is SEARCH/REPLACE blocks (or a whole program when `full_rewrite`) and a one-line
note. Blocks that do not apply, and programs that fail `validate_source`, go back to the
model in the same conversation, at most `max_fix_attempts` times; then the operator gives
up with `LLMOperatorError`, which carries what the attempt cost.

The conversation is a generator that yields what it needs (a model's answer to a prompt, or
the validation of a program) and receives it; `apropose` drives it on the LLM client's event
loop, so a campaign keeps many proposals in flight on one thread, and `propose` is its
blocking form. Driver CPU per proposal is kept small: an answer is first parsed with Python's
own parser (a broken program is sent back without the full libcst validation), and a child
that differs from its valid parent only in knob literals needs no second validation at all.
"""
from __future__ import annotations

import ast
import asyncio
from typing import Any, Generator

from design_space.validate import MAX_BYTES, MAX_LINES, Problem, validate_source
from evolve.llm.bandit import ModelBandit, arm_key
from evolve.llm.client import LLMBudgetExceeded, LLMClient, LLMError, prompt_hash
from evolve.operators import prompts
from evolve.operators.base import CandidateView, OperatorContext, OperatorError, Proposal
from evolve.operators.edits import apply_blocks, parse_reply
from evolve.operators.knobs import read_knobs, write_knobs

# yields ("ask", messages, purpose) -> LLMReply, or ("validate", code) -> list[Problem]
Session = Generator[tuple[Any, ...], Any, Proposal]


def knob_only(code: str, base: str) -> bool:
    """True when `code` is `base` with only module-level knob literals changed (so as valid as `base`)."""
    if len(code.encode("utf-8")) > MAX_BYTES or code.count("\n") > MAX_LINES:
        return False
    try:
        new = {k.name: k.value for k in read_knobs(code)}
        old = {k.name for k in read_knobs(base)}
        return set(new) == old and write_knobs(base, new) == code
    except (SyntaxError, ValueError, KeyError, TypeError):
        return False


def syntax_problem(code: str) -> list[Problem] | None:
    """Python's own parse (~1 ms): a program that does not parse is sent back without libcst's ~100 ms."""
    try:
        ast.parse(code)
        return None
    except (SyntaxError, ValueError):
        return validate_source(code)  # the validator's message and line for it (it fails fast too)


class LLMOperatorError(OperatorError):
    """No valid child this time; `meta` says which model was asked and what it cost."""

    def __init__(self, message: str, meta: dict[str, Any]) -> None:
        super().__init__(message)
        self.meta = meta


class LLMEdit:
    name = "llm_edit"
    arity = 1

    def __init__(self, client: LLMClient, *, bandit: ModelBandit | None = None, full_rewrite: bool = False,
                 max_fix_attempts: int = 2, components: bool = True) -> None:
        if max_fix_attempts < 0:
            raise ValueError(f"max_fix_attempts must be >= 0, got {max_fix_attempts}")
        self.client = client
        self.bandit = bandit
        self.full_rewrite = full_rewrite
        self.max_fix_attempts = max_fix_attempts
        self.components = components  # list design_space.components in the prompt

    # -- what differs between operators ---------------------------------------------------
    def messages(self, ctx: OperatorContext) -> list[dict[str, str]]:
        return prompts.edit_messages(ctx, full_rewrite=self.full_rewrite, components=self.components)

    def unchanged(self, code: str, ctx: OperatorContext) -> bool:
        return code == ctx.parents[0].code

    def check(self, ctx: OperatorContext) -> None:
        """Refuse, before any dollar is spent, a context this operator cannot use."""
        if len(ctx.parents) < self.arity:
            raise OperatorError(f"{self.name} needs {self.arity} parent(s), got {len(ctx.parents)}")

    # -- driving --------------------------------------------------------------------------
    def choose_model(self, ctx: OperatorContext) -> str:
        if self.bandit is not None:
            return self.bandit.choose(self.name, list(self.client.models))
        return self.client.pick(ctx.rng)

    def propose(self, ctx: OperatorContext) -> Proposal:
        """Blocking form of `apropose` (runs it on the client's loop)."""
        return self.client.submit(self.apropose(ctx)).result()

    async def apropose(self, ctx: OperatorContext) -> Proposal:
        self.check(ctx)
        model = self.choose_model(ctx)
        tally: dict[str, Any] = self._tally(model)
        session = self._session(ctx, model, tally)
        need = next(session)
        while True:
            if need[0] == "ask":
                try:
                    answer: Any = await self.client.acomplete(need[1], purpose=need[2], model=model)
                except (LLMError, LLMBudgetExceeded) as exc:
                    raise LLMOperatorError(f"{self.name}: {exc}", tally) from exc
            else:  # libcst holds the loop ~100 ms: in a worker thread other calls go on meanwhile
                answer = await asyncio.to_thread(validate_source, need[1])
            try:
                need = session.send(answer)
            except StopIteration as done:
                return done.value

    def _tally(self, model: str) -> dict[str, Any]:
        return {"model": model, "arm": arm_key(self.name, model), "prompt_version": prompts.PROMPT_VERSION,
                "prompt_hash": "", "call_hashes": [], "call_ids": [], "calls": 0, "cost_usd": 0.0, "cost_known": True,
                "prompt_tokens": 0, "completion_tokens": 0, "problems": []}

    def _session(self, ctx: OperatorContext, model: str, tally: dict[str, Any]) -> Session:
        base: CandidateView = ctx.parents[0]
        messages = self.messages(ctx)
        tally["prompt_hash"] = prompt_hash(messages)
        code = base.code
        problems: list[str] = []
        applied: set[tuple[str, str]] = set()  # blocks applied in earlier rounds, if the model re-sends them
        for attempt in range(self.max_fix_attempts + 1):
            reply = yield "ask", messages, (self.name if attempt == 0 else f"{self.name}.fix")
            tally["calls"] += 1
            tally["call_hashes"].append(reply.prompt_hash)
            tally["call_ids"].append(reply.call_id)
            tally["cost_usd"] += reply.cost_usd
            tally["cost_known"] = tally["cost_known"] and reply.cost_known
            tally["prompt_tokens"] += reply.prompt_tokens
            tally["completion_tokens"] += reply.completion_tokens
            parsed = parse_reply(reply.text, full_rewrite=self.full_rewrite)
            problems, lines = list(parsed.problems), []
            if parsed.rewrite is not None:
                code = parsed.rewrite
            elif parsed.blocks:
                code, failed = apply_blocks(code, parsed.blocks, applied)
                problems += failed
            if not problems and not knob_only(code, base.code):
                found = syntax_problem(code)
                if found is None:
                    found = yield "validate", code
                problems, lines = [p.render() for p in found], [p.line for p in found]
            if not problems and self.unchanged(code, ctx):
                problems = ["the program is unchanged; make a real change"]
            if not problems:
                return Proposal(code=code, note=parsed.note or f"{self.name} by {model} (no note given)",
                                operator=self.name, parents=tuple(p.id for p in ctx.parents[: self.arity]),
                                meta=dict(tally, attempts=attempt + 1))
            tally["problems"].append(problems)
            messages = messages + [
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": prompts.fix_message(problems, code, lines,
                                                                full_rewrite=self.full_rewrite)},
            ]
        raise LLMOperatorError(f"{self.name}: no valid child after {self.max_fix_attempts + 1} answers from "
                               f"{model}; last problems: {'; '.join(problems[:3])}", tally)
