"""What an LLM call cost, in US dollars.

Prices written in the config (per 1M tokens) win: they are what the user says they pay
(a local server, a negotiated rate, a model litellm has never heard of). Otherwise
litellm's own price table prices the call (`LITELLM_LOCAL_MODEL_COST_MAP` keeps that table
offline). When neither knows the model the call costs 0 and is marked `known=False`, so
a dollar budget cannot silently pass for enforced.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cost:
    usd: float
    known: bool
    source: str  # config | litellm | unknown


def price_call(response: Any, prompt_tokens: int, completion_tokens: int,
               price_in: float | None, price_out: float | None) -> Cost:
    """Cost of one answered call; `response` is litellm's ModelResponse (or None in replay)."""
    if price_in is not None or price_out is not None:
        usd = (prompt_tokens * (price_in or 0.0) + completion_tokens * (price_out or 0.0)) / 1e6
        return Cost(usd, True, "config")
    if response is not None:
        import litellm

        try:
            usd = litellm.completion_cost(completion_response=response)
        except Exception:  # noqa: BLE001 - litellm raises several types for "model not in the price table"
            usd = None
        if usd is not None:
            return Cost(float(usd), True, "litellm")
    return Cost(0.0, False, "unknown")
