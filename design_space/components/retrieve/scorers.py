"""Recency, importance and relevance scores, and their weighted combination.

Generative Agents (Park et al., 2023) scores a memory by
``a_rec * recency + a_imp * importance + a_rel * relevance``, each min-max normalised, with
recency an exponential decay (0.995 per game hour) since the memory was last accessed.
The rule-based importance here stands in for the model's 1-10 poignancy rating.
"""
from __future__ import annotations

import re

import numpy as np

from design_space.components.retrieve.topk import min_max

HOUR = 3600.0
_SALIENT = re.compile(r"\b(moved|married|born|died|new job|promoted|graduated|diagnosed|pregnant|engaged|"
                      r"divorced|bought|adopted|started|quit|won|lost|broke|accident|surgery|birthday|"
                      r"wedding|lives|works|loves|hates|allergic|favourite|favorite|name is|called|named)\b", re.I)
_CAPS = re.compile(r"\b[A-Z][a-z]+")
_DIGITS = re.compile(r"\d")


def recency(now: float, times: np.ndarray, decay_per_hour: float = 0.995) -> np.ndarray:
    """decay ** hours since each time (1.0 for now, towards 0 for long ago)."""
    hours = np.maximum(0.0, (now - np.asarray(times, dtype=np.float64)) / HOUR)
    return np.power(float(decay_per_hour), hours)


def rule_importance(text: str) -> float:
    """A 1-10 poignancy guess: life events, names and numbers matter; chit-chat does not."""
    score = 1.0
    score += 3.0 * min(2, len(_SALIENT.findall(text)))
    score += 0.5 * min(4, len(_CAPS.findall(text[1:])))
    score += 1.0 if _DIGITS.search(text) else 0.0
    return float(min(10.0, score))


IMPORTANCE_PROMPT = ("On the scale of 1 to 10, where 1 is purely mundane (e.g., brushing teeth, making bed) "
                     "and 10 is extremely poignant (e.g., a break up, college acceptance), rate the likely "
                     "poignancy of the following piece of memory. Reply with one number.\nMemory: {text}\nRating:")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_rating(reply: str | None, fallback: float) -> float:
    m = _NUMBER.search(reply or "")
    return float(min(10.0, max(1.0, float(m.group())))) if m else fallback


def combine(recency_s: np.ndarray, importance_s: np.ndarray, relevance_s: np.ndarray,
            weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Weighted sum of the min-max normalised components."""
    a, b, c = weights
    return a * min_max(recency_s) + b * min_max(importance_s) + c * min_max(relevance_s)
