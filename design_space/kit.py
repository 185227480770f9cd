"""The concrete Toolkit a sandbox hands to a program: embedder, token counter, llm, clock."""
from __future__ import annotations

import re
import time as _time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from design_space.embedders import Embedder, HashingEmbedder

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def count_tokens(text: str) -> int:
    """Offline token count: words and punctuation marks (close to BPE counts for English)."""
    return len(_TOKEN.findall(text))


class LLMBudgetExceeded(RuntimeError):
    """Raised when a program calls its llm more often than its per-program budget allows."""


@dataclass
class Kit:
    embedder: Embedder = field(default_factory=HashingEmbedder)
    llm_fn: Callable[[str], str] | None = None
    llm_call_budget: int = 0
    clock: Callable[[], float] = _time.time
    llm_calls: int = 0
    llm_tokens: int = 0

    @property
    def llm(self) -> Callable[[str], str] | None:
        return self._call_llm if self.llm_fn is not None else None

    def _call_llm(self, prompt: str) -> str:
        if self.llm_calls >= self.llm_call_budget:
            raise LLMBudgetExceeded(f"llm call budget of {self.llm_call_budget} calls is spent")
        self.llm_calls += 1
        assert self.llm_fn is not None
        reply = self.llm_fn(prompt)
        self.llm_tokens += count_tokens(prompt) + count_tokens(reply)
        return reply

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed(list(texts))

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    def now(self) -> float:
        return self.clock()
