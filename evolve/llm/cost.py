"""What an LLM call cost, in US dollars.

Prices written in the config (per 1M tokens) win: they are what the user says they pay
(a local server, a negotiated rate, a model litellm has never heard of). Otherwise
litellm's own price table prices the call (`LITELLM_LOCAL_MODEL_COST_MAP` keeps that table
offline). When neither knows the model the call costs 0 and is marked `known=False` (the
store keeps the mark), so a dollar budget cannot silently pass for enforced: a token budget
bounds such calls instead.
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
    """Cost of one answered call; `response` is litellm's ModelResponse (or None when litellm did not call)."""
    if price_in is not None or price_out is not None:
        usd = (prompt_tokens * (price_in or 0.0) + completion_tokens * (price_out or 0.0)) / 1e6
        return Cost(usd, True, "config")
    if response is not None:
        from evolve.llm.transport import litellm_module

        try:
            usd = litellm_module().completion_cost(completion_response=response)
        except Exception:  # noqa: BLE001 - litellm raises several types for "model not in the price table"
            usd = None
        if usd is not None:
            return Cost(float(usd), True, "litellm")
    return Cost(0.0, False, "unknown")


def table_prices(model: str) -> tuple[float, float] | None:
    """USD per 1M (prompt, completion) tokens from litellm's bundled table, or None if it has no price."""
    from evolve.llm.transport import litellm_module

    try:
        litellm = litellm_module()
        p_in, _ = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=0)
        _, p_out = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1_000_000)
        return float(p_in), float(p_out)
    except Exception:  # noqa: BLE001 - litellm raises for models it has no price for
        return None
