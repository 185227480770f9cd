"""The one way memarch talks to LLMs: litellm, with cost accounting, recording and replay.

`LLMClient` holds the configured models (`ModelSpec`: any litellm provider string, an
optional `api_base` for local servers, the *name* of the env var holding the key, a
weight, sampling settings and optional per-token prices). `complete` makes
one chat call with a chosen model and return an `LLMReply` with tokens, dollars, latency
and the prompt hash. Every call, answered or failed, is handed to `on_call(record)` so the
campaign store can persist it. A `Cassette` in record mode writes each call to JSONL; in
replay mode calls are answered from it and litellm is never imported.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from evolve.llm.cassette import Cassette
from evolve.llm.cost import Cost, price_call

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
    num_retries: int = 2
    name: str = ""  # how the campaign refers to it; defaults to `model`

    @property
    def key(self) -> str:
        return self.name or self.model


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


def prompt_hash(messages: list[Message]) -> str:
    """Stable hash of a conversation: what a cassette and the store key a prompt by."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def _litellm() -> Any:
    # The price table is bundled; without this litellm fetches it over the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class LLMClient:
    def __init__(self, models: list[ModelSpec], *, cassette: Cassette | None = None,
                 on_call: OnCall | None = None, max_usd: float | None = None) -> None:
        if not models:
            raise ValueError("at least one LLM model must be configured")
        keys = [m.key for m in models]
        if len(set(keys)) != len(keys):
            raise ValueError(f"LLM model names must be unique, got {keys}")
        for m in models:
            if m.weight < 0:
                raise ValueError(f"LLM model {m.key!r}: weight must be >= 0, got {m.weight}")
        self.models = {m.key: m for m in models}
        if cassette is None or cassette.mode != "replay":  # a replay needs no keys
            for m in models:
                if m.api_key_env and not os.environ.get(m.api_key_env):
                    raise ValueError(f"LLM model {m.key!r}: env var {m.api_key_env} is not set "
                                     "(export it, or replay from a cassette)")
        self.cassette = cassette
        self.on_call = on_call
        self.max_usd = max_usd
        self.spent_usd = 0.0
        self.calls = 0
        self._lock = threading.Lock()

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
                for k, m in self.models.items() if m.price_in is not None or m.price_out is not None}

    # -- calling --------------------------------------------------------------------------
    def complete(self, messages: list[Message], *, purpose: str, model: str | None = None) -> LLMReply:
        spec, phash = self._begin(messages, model)
        replayed = self._replayed(spec, phash, messages, purpose)
        if replayed is not None:
            return replayed
        start = time.perf_counter()
        try:
            response = _litellm().completion(**self._kwargs(spec, messages))
        except Exception as exc:  # noqa: BLE001 - every provider error becomes one recorded LLMError
            self._failed(spec, phash, messages, purpose, exc, time.perf_counter() - start)
        return self._answered(spec, phash, messages, purpose, response, time.perf_counter() - start)

    # -- internals ------------------------------------------------------------------------
    def _begin(self, messages: list[Message], model: str | None) -> tuple[ModelSpec, str]:
        spec = self.spec(model)
        with self._lock:
            if self.max_usd is not None and self.spent_usd >= self.max_usd:
                raise LLMBudgetExceeded(f"LLM budget of ${self.max_usd:.2f} spent (${self.spent_usd:.4f})")
        return spec, prompt_hash(messages)

    def _kwargs(self, spec: ModelSpec, messages: list[Message]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": spec.model, "messages": messages, "temperature": spec.temperature,
            "max_tokens": spec.max_tokens, "timeout": spec.timeout_s, "num_retries": spec.num_retries,
        }
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise LLMError(f"LLM model {spec.key!r}: env var {spec.api_key_env} is not set")
            kwargs["api_key"] = key
        elif spec.api_base:
            kwargs["api_key"] = "none"  # local OpenAI-compatible servers want some key, and ignore it
        return kwargs

    def _replayed(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str) -> LLMReply | None:
        if self.cassette is None or self.cassette.mode != "replay":
            return None
        entry = self.cassette.lookup(spec.key, phash)
        if entry.get("error"):
            self._emit(spec, phash, messages, purpose, None, entry["error"], float(entry.get("latency_s", 0.0)),
                       replayed=True)
            raise LLMError(f"LLM call to {spec.key!r} failed: {entry['error']}")
        reply = LLMReply(entry["text"], spec.key, int(entry["prompt_tokens"]), int(entry["completion_tokens"]),
                         float(entry["cost_usd"]), float(entry["latency_s"]), phash,
                         bool(entry.get("cost_known", True)), replayed=True)
        self._account(reply.cost_usd)
        self._emit(spec, phash, messages, purpose, reply, None, reply.latency_s, replayed=True)
        return reply

    def _answered(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
                  response: Any, latency: float) -> LLMReply:
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        pt = int(getattr(usage, "prompt_tokens", 0) or 0)
        ct = int(getattr(usage, "completion_tokens", 0) or 0)
        cost: Cost = price_call(response, pt, ct, spec.price_in, spec.price_out)
        reply = LLMReply(text, spec.key, pt, ct, cost.usd, round(latency, 6), phash, cost.known)
        self._account(reply.cost_usd)
        if self.cassette is not None and self.cassette.mode == "record":
            self.cassette.append({"model": spec.key, "prompt_hash": phash, "text": text, "prompt_tokens": pt,
                                  "completion_tokens": ct, "cost_usd": cost.usd, "cost_known": cost.known,
                                  "latency_s": reply.latency_s})
        self._emit(spec, phash, messages, purpose, reply, None, reply.latency_s)
        return reply

    def _failed(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
                exc: Exception, latency: float) -> None:
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
        if self.cassette is not None and self.cassette.mode == "record":
            self.cassette.append({"model": spec.key, "prompt_hash": phash, "error": error,
                                  "latency_s": round(latency, 6)})
        self._emit(spec, phash, messages, purpose, None, error, latency)
        raise LLMError(f"LLM call to {spec.key!r} failed: {error}") from exc

    def _account(self, usd: float) -> None:
        with self._lock:
            self.spent_usd += usd
            self.calls += 1

    def _emit(self, spec: ModelSpec, phash: str, messages: list[Message], purpose: str,
              reply: LLMReply | None, error: str | None, latency: float, replayed: bool = False) -> None:
        if self.on_call is None:
            return
        self.on_call({
            "time": time.time(), "model": spec.key, "purpose": purpose, "prompt_hash": phash,
            "request": messages, "response": reply.text if reply else None,
            "prompt_tokens": reply.prompt_tokens if reply else 0,
            "completion_tokens": reply.completion_tokens if reply else 0,
            "cost_usd": reply.cost_usd if reply else 0.0, "cost_known": reply.cost_known if reply else True,
            "latency_s": round(latency, 6), "error": error, "replayed": replayed,
        })
