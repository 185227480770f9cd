"""The one way memarch talks to LLMs: async calls with cost accounting, budgets, recording and replay.

`LLMClient` holds the configured models (`ModelSpec`: any litellm provider string, an
optional `api_base` for local servers, the *name* of the env var holding the key, a
weight, sampling settings, optional per-token prices and per-model rate limits). Calls run
on one event loop in a background thread (`submit`, `acomplete`); `complete` is the blocking
form. Every call attempt, answered or failed, is handed to `on_call(record)` so the campaign
store can persist it. Spend is kept as running totals; a call is admitted only while the
dollars and tokens spent plus those reserved by calls in flight stay under the budgets, so
many calls in flight overshoot a budget by at most one call. A 429 or a timeout backs off
that model alone (`gate`). A `Cassette` in record mode writes each call to JSONL; in replay
mode calls are answered from it and nothing is imported or sent.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Coroutine

from evolve.llm.cassette import Cassette
from evolve.llm.cost import Cost, price_call, table_prices
from evolve.llm.gate import ModelGate
from evolve.llm.transport import (Answer, HTTPTransport, LiteLLMTransport, TransportError, litellm_module,
                                  uses_http)

Message = dict[str, str]
OnCall = Callable[[dict[str, Any]], None]


class LLMError(RuntimeError):
    """An LLM call failed (transport, provider error, missing key)."""


class LLMBudgetExceeded(RuntimeError):
    """The campaign's LLM dollar budget is spent; no further calls are made."""


@dataclass(frozen=True)
class ModelSpec:
    model: str  # litellm provider/model, e.g. "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"
    api_base: str | None = None  # e.g. "http://127.0.0.1:8000/v1" for a local server
    api_key_env: str | None = None  # the NAME of an env var holding the key; keys are never stored
    weight: float = 1.0
    temperature: float = 0.7
    max_tokens: int = 4096
    price_in: float | None = None  # USD per 1M prompt tokens (overrides litellm's table)
    price_out: float | None = None  # USD per 1M completion tokens
    timeout_s: float = 120.0
    num_retries: int = 2  # after a 429, a timeout or a 5xx, with this model's back-off in between
    name: str = ""  # how the campaign refers to it; defaults to `model`
    max_in_flight: int | None = None  # calls to this model at once (None: as many as the campaign makes)
    requests_per_minute: float | None = None
    transport: str = "auto"  # auto | http | litellm (see evolve.llm.transport)

    @property
    def key(self) -> str:
        return self.name or self.model

    @property
    def priced(self) -> bool:
        return self.price_in is not None or self.price_out is not None


@dataclass(frozen=True)
class LLMReply:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    prompt_hash: str
    cost_known: bool = True
    replayed: bool = False
    call_id: int | None = None  # the store's row for this call: links it to the one child it made


def prompt_hash(messages: list[Message]) -> str:
    """Stable hash of a conversation: what a cassette and the store key a prompt by."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def _litellm() -> Any:
    return litellm_module()


def estimate_tokens(messages: list[Message]) -> int:
    # About four characters a token, plus the chat template's few tokens per message.
    return sum(len(m.get("content") or "") for m in messages) // 4 + 4 * len(messages)


class LLMClient:
    def __init__(self, models: list[ModelSpec], *, cassette: Cassette | None = None,
                 on_call: OnCall | None = None, max_usd: float | None = None,
                 max_tokens: int | None = None) -> None:
        if not models:
            raise ValueError("at least one LLM model must be configured")
        keys = [m.key for m in models]
        if len(set(keys)) != len(keys):
            raise ValueError(f"LLM model names must be unique, got {keys}")
        for m in models:
            if m.weight < 0:
                raise ValueError(f"LLM model {m.key!r}: weight must be >= 0, got {m.weight}")
            if m.transport not in ("auto", "http", "litellm"):
                raise ValueError(f"LLM model {m.key!r}: transport must be auto, http or litellm, not {m.transport!r}")
            if m.transport == "http" and not m.api_base:
                raise ValueError(f"LLM model {m.key!r}: transport 'http' needs an api_base")
        self.models = {m.key: m for m in models}
        if cassette is None or cassette.mode != "replay":  # a replay needs no keys
            for m in models:
                if m.api_key_env and not os.environ.get(m.api_key_env):
                    raise ValueError(f"LLM model {m.key!r}: env var {m.api_key_env} is not set "
                                     "(export it, or replay from a cassette)")
        self.cassette = cassette
        self.on_call = on_call
        self.max_usd = max_usd
        self.max_tokens = max_tokens
        # running totals (a resumed campaign starts them from the store): no call ever re-reads history
        self.spent_usd = 0.0
        self.tokens = 0
        self.calls = 0
        self.unpriced_calls = 0  # answered calls nobody could price: they count in tokens, not in dollars
        self._reserved_usd = 0.0
        self._reserved_tokens = 0
        self._lock = threading.Lock()
        self._gates = {k: ModelGate(m.max_in_flight, m.requests_per_minute, random.Random(f"gate:{k}"))
                       for k, m in self.models.items()}
        self._http = HTTPTransport()
        self._litellm = LiteLLMTransport()
        self._prices: dict[str, tuple[float, float] | None] = {}  # litellm's table, looked up once per model
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- choosing -------------------------------------------------------------------------
    def spec(self, model: str | None) -> ModelSpec:
        if model is None:
            return next(iter(self.models.values()))
        try:
            return self.models[model]
        except KeyError:
            raise ValueError(f"no LLM model named {model!r} (configured: {', '.join(self.models)})") from None

    def pick(self, rng: random.Random) -> str:
        """A model drawn by the configured weights (when no bandit decides)."""
        names = list(self.models)
        weights = [self.models[n].weight for n in names]
        if sum(weights) <= 0:
            return names[0]
        return rng.choices(names, weights=weights, k=1)[0]

    def cost_estimates(self, prompt_tokens: int = 8000, completion_tokens: int = 1500) -> dict[str, float]:
        """Dollars per child for each model priced in the config (a typical edit with one fix round)."""
        return {k: (prompt_tokens * (m.price_in or 0.0) + completion_tokens * (m.price_out or 0.0)) / 1e6
                for k, m in self.models.items() if m.priced}

    # -- budgets --------------------------------------------------------------------------
    def exhausted(self) -> str:
        """Why no call may start now ("" if one may): spent plus reserved by calls in flight reach a budget."""
        with self._lock:
            return self._exhausted()

    def _exhausted(self) -> str:
        if self.max_usd is not None and self.spent_usd + self._reserved_usd >= self.max_usd:
            return f"LLM budget of ${self.max_usd:.2f} spent (${self.spent_usd:.4f}, ${self._reserved_usd:.4f} in flight)"
        if self.max_tokens is not None and self.tokens + self._reserved_tokens >= self.max_tokens:
            return (f"LLM token budget of {self.max_tokens} spent ({self.tokens} tokens, "
                    f"{self._reserved_tokens} in flight)")
        return ""

    def _reserve(self, spec: ModelSpec, messages: list[Message]) -> tuple[float, int]:
        tokens_in = estimate_tokens(messages)
        price = self._known_prices(spec)
        usd = (tokens_in * price[0] + spec.max_tokens * price[1]) / 1e6 if price else 0.0
        with self._lock:
            why = self._exhausted()
            if why:
                raise LLMBudgetExceeded(why)
            self._reserved_usd += usd
            self._reserved_tokens += tokens_in + spec.max_tokens
        return usd, tokens_in + spec.max_tokens

    def _release(self, reservation: tuple[float, int]) -> None:
        with self._lock:
            self._reserved_usd = max(0.0, self._reserved_usd - reservation[0])
            self._reserved_tokens = max(0, self._reserved_tokens - reservation[1])

    def _known_prices(self, spec: ModelSpec) -> tuple[float, float] | None:
        if spec.priced:
            return spec.price_in or 0.0, spec.price_out or 0.0
        return self._prices.get(spec.model)

    # -- the event loop -------------------------------------------------------------------
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop every call of this client runs on (started on first use, in a daemon thread)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="memarch-llm", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Run a coroutine (an operator's proposal, a call) on the client's loop; a Future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def close(self) -> None:
        """Close connections and stop the loop (a later call starts a new one)."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None:
            return

        async def shut() -> None:
            await self._http.close()

        try:
            asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=5)
        except Exception:  # noqa: BLE001 - closing must not fail a finished campaign
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=5)
        if not loop.is_running():
            loop.close()

    # -- calling --------------------------------------------------------------------------
    def complete(self, messages: list[Message], *, purpose: str, model: str | None = None) -> LLMReply:
        """Blocking form of `acomplete` (not from the client's own loop)."""
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError("LLMClient.complete blocks: on the client's loop, await acomplete instead")
        return self.submit(self.acomplete(messages, purpose=purpose, model=model)).result()

    async def acomplete(self, messages: list[Message], *, purpose: str, model: str | None = None) -> LLMReply:
        spec = self.spec(model)
        phash = prompt_hash(messages)
        if self.cassette is not None and self.cassette.mode == "replay":
            why = self.exhausted()
            if why:
                raise LLMBudgetExceeded(why)
            return self._replayed(spec, phash, messages, purpose)
        if not spec.priced and spec.model not in self._prices:
            self._prices[spec.model] = await asyncio.to_thread(table_prices, spec.model)
        reservation = self._reserve(spec, messages)
        try:
            return await self._call(spec, phash, messages, purpose)
        finally:
            self._release(reservation)

    async def _call(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str) -> LLMReply:
        gate = self._gates[spec.key]
        key = self._api_key(spec)
        transport = self._http if uses_http(spec) else self._litellm
        attempt = 0
        while True:
            async with gate:
                start = time.perf_counter()
                try:
                    answer = await transport.call(spec, messages, key)
                except TransportError as exc:
                    latency = time.perf_counter() - start
                    if not exc.retryable or attempt >= spec.num_retries:
                        self._failed(spec, phash, messages, purpose, exc, latency)
                    # this attempt is recorded too: every request a provider saw is in the store
                    self._emit(spec, phash, messages, purpose, None, f"{exc} (retrying)"[:500], latency)
                    gate.back_off(exc.retry_after)
                    attempt += 1
                    continue
            gate.answered()
            return self._answered(spec, phash, messages, purpose, answer, time.perf_counter() - start)

    # -- internals ------------------------------------------------------------------------
    def _api_key(self, spec: ModelSpec) -> str | None:
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise LLMError(f"LLM model {spec.key!r}: env var {spec.api_key_env} is not set")
            return key
        return "none" if spec.api_base else None  # local OpenAI-compatible servers want some key, and ignore it

    def _replayed(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str) -> LLMReply:
        assert self.cassette is not None
        entry = self.cassette.lookup(spec.key, phash)
        if entry.get("error"):
            self._emit(spec, phash, messages, purpose, None, entry["error"], float(entry.get("latency_s", 0.0)),
                       replayed=True)
            raise LLMError(f"LLM call to {spec.key!r} failed: {entry['error']}")
        reply = LLMReply(entry["text"], spec.key, int(entry["prompt_tokens"]), int(entry["completion_tokens"]),
                         float(entry["cost_usd"]), float(entry["latency_s"]), phash,
                         bool(entry.get("cost_known", True)), replayed=True)
        self._account(reply)
        call_id = self._emit(spec, phash, messages, purpose, reply, None, reply.latency_s, replayed=True)
        reply = dataclasses.replace(reply, call_id=call_id)
        return reply

    def _answered(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
                  answer: Answer, latency: float) -> LLMReply:
        pt, ct = answer.prompt_tokens, answer.completion_tokens
        if answer.response is not None and not spec.priced:
            cost: Cost = price_call(answer.response, pt, ct, None, None)
        else:
            prices = self._known_prices(spec)
            cost = price_call(None, pt, ct, *prices) if prices else Cost(0.0, False, "unknown")
        reply = LLMReply(answer.text, spec.key, pt, ct, cost.usd, round(latency, 6), phash, cost.known)
        self._account(reply)
        if self.cassette is not None and self.cassette.mode == "record":
            self.cassette.append({"model": spec.key, "prompt_hash": phash, "text": answer.text, "prompt_tokens": pt,
                                  "completion_tokens": ct, "cost_usd": cost.usd, "cost_known": cost.known,
                                  "latency_s": reply.latency_s})
        call_id = self._emit(spec, phash, messages, purpose, reply, None, reply.latency_s)
        return dataclasses.replace(reply, call_id=call_id)

    def _failed(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
                exc: Exception, latency: float) -> None:
        error = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
        if self.cassette is not None and self.cassette.mode == "record":
            self.cassette.append({"model": spec.key, "prompt_hash": phash, "error": error,
                                  "latency_s": round(latency, 6)})
        self._emit(spec, phash, messages, purpose, None, error, latency)
        raise LLMError(f"LLM call to {spec.key!r} failed: {error}") from exc

    def _account(self, reply: LLMReply) -> None:
        with self._lock:
            self.spent_usd += reply.cost_usd
            self.tokens += reply.prompt_tokens + reply.completion_tokens
            self.calls += 1
            self.unpriced_calls += not reply.cost_known

    def _emit(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
              reply: LLMReply | None, error: str | None, latency: float, replayed: bool = False) -> Any:
        if self.on_call is None:
            return None
        return self.on_call({
            "time": time.time(), "model": spec.key, "purpose": purpose, "prompt_hash": phash,
            "request": messages, "response": reply.text if reply else None,
            "prompt_tokens": reply.prompt_tokens if reply else 0,
            "completion_tokens": reply.completion_tokens if reply else 0,
            "cost_usd": reply.cost_usd if reply else 0.0, "cost_known": reply.cost_known if reply else True,
            "latency_s": round(latency, 6), "error": error, "replayed": replayed,
        })
