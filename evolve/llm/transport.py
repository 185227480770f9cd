"""How one chat call reaches a model: litellm for any provider, or plain HTTP for OpenAI-compatible servers.

Both are async and share one connection pool per client, so dozens of calls can be in flight
on one event loop. `LiteLLMTransport` (`litellm.acompletion`) covers every provider litellm
knows. `HTTPTransport` posts to `<api_base>/chat/completions` over one aiohttp session: on
2 cores litellm spends about 17 ms of driver CPU per call (async or not) and a bare aiohttp
post about 1 ms, which is most of the ~20 ms a whole LLM proposal may cost (measured with
bench/llm_throughput.py; see docs/LLM.md). A model with an `api_base` and an `openai/`
provider string uses HTTP unless its `transport` says `litellm`.

Errors come back as `TransportError` with a kind the client's retry policy reads:
`rate_limit` (HTTP 429, with the server's Retry-After), `timeout`, `server` (5xx, connection
lost) or `client` (any other refusal: not worth retrying).
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any


class TransportError(RuntimeError):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limit", "timeout", "server")


@dataclass(frozen=True)
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    response: Any = None  # litellm's ModelResponse, when litellm made the call (it prices from it)


def litellm_module() -> Any:
    # The price table is bundled; without this litellm fetches it over the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def uses_http(spec: Any) -> bool:
    if spec.transport == "http":
        return True
    return spec.transport == "auto" and bool(spec.api_base) and spec.model.startswith("openai/")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the client's own backoff applies


class HTTPTransport:
    """OpenAI chat-completions over one shared aiohttp session (created on the client's loop)."""

    def __init__(self) -> None:
        self._session: Any = None

    async def call(self, spec: Any, messages: list[dict[str, str]], api_key: str) -> Answer:
        import aiohttp

        if self._session is None:
            # no per-host cap: the client's per-model gates decide how many calls are in flight
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        body = {"model": spec.model.removeprefix("openai/"), "messages": messages,
                "temperature": spec.temperature, "max_tokens": spec.max_tokens}
        url = spec.api_base.rstrip("/") + "/chat/completions"
        try:
            async with self._session.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"},
                                          timeout=aiohttp.ClientTimeout(total=spec.timeout_s)) as resp:
                if resp.status != 200:
                    text = await resp.text()
                    kind = "rate_limit" if resp.status == 429 else "server" if resp.status >= 500 else "client"
                    raise TransportError(kind, f"HTTP {resp.status}: {_error_message(text)}",
                                         _retry_after(resp.headers.get("Retry-After")))
                data = await resp.json(content_type=None)
        except asyncio.TimeoutError:
            raise TransportError("timeout", f"no answer within {spec.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise TransportError("server", f"{type(exc).__name__}: {exc}") from None
        try:
            text = data["choices"][0]["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise TransportError("client", f"not a chat completion: {str(data)[:200]}") from None
        usage = data.get("usage") or {}
        return Answer(text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _error_message(text: str) -> str:
    import json

    try:
        err = json.loads(text).get("error")
        return str(err.get("message") if isinstance(err, dict) else err)[:300]
    except (ValueError, AttributeError):
        return text[:300]


class LiteLLMTransport:
    """Any litellm provider, through `litellm.acompletion` (its own retries off: the client retries)."""

    async def call(self, spec: Any, messages: list[dict[str, str]], api_key: str | None) -> Answer:
        litellm = litellm_module()
        kwargs: dict[str, Any] = {"model": spec.model, "messages": messages, "temperature": spec.temperature,
                                  "max_tokens": spec.max_tokens, "timeout": spec.timeout_s, "num_retries": 0}
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if api_key:
            kwargs["api_key"] = api_key
        try:
            response = await litellm.acompletion(**kwargs)
        except Exception as exc:  # noqa: BLE001 - every provider error becomes one TransportError
            raise _classify(exc) from exc
        usage = getattr(response, "usage", None)
        return Answer(response.choices[0].message.content or "", int(getattr(usage, "prompt_tokens", 0) or 0),
                      int(getattr(usage, "completion_tokens", 0) or 0), response)

    async def close(self) -> None:
        return None


def _classify(exc: Exception) -> TransportError:
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    message = f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if status == 429 or "RateLimit" in name:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        return TransportError("rate_limit", message, _retry_after(headers.get("retry-after")))
    if "Timeout" in name or isinstance(exc, asyncio.TimeoutError):
        return TransportError("timeout", message)
    if (isinstance(status, int) and status >= 500) or "Connection" in name or "ServiceUnavailable" in name:
        return TransportError("server", message)
    return TransportError("client", message)
