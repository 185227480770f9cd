"""Consolidation: merge clusters of similar memories into one, keeping every source id.

Greedy single-pass clustering by cosine similarity; each cluster becomes one memory whose
text is a model summary when a model is configured, else the distinct sentences joined.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from design_space.components.encode.llm_extract import LLM, summarise
from design_space.components.manage.dedupe import normalise


@dataclass
class Merged:
    text: str
    source_ids: tuple[str, ...]
    members: tuple[int, ...]


def clusters(vectors: np.ndarray, threshold: float = 0.8) -> list[list[int]]:
    """Groups of row indices whose cosine to the group's first row is >= threshold."""
    v = np.asarray(vectors, dtype=np.float32)
    groups: list[list[int]] = []
    heads: list[int] = []
    for i in range(len(v)):
        if heads:
            sims = v[heads] @ v[i]
            j = int(np.argmax(sims))
            if sims[j] >= threshold:
                groups[j].append(i)
                continue
        heads.append(i)
        groups.append([i])
    return groups


def merge(texts: list[str], source_ids: list[tuple[str, ...]], vectors: np.ndarray, threshold: float = 0.8,
          llm: LLM = None, max_words: int = 60) -> list[Merged]:
    out = []
    for group in clusters(vectors, threshold):
        ids = tuple(dict.fromkeys(s for i in group for s in source_ids[i]))
        if len(group) == 1:
            out.append(Merged(texts[group[0]], ids, tuple(group)))
            continue
        distinct = list({normalise(texts[i]): texts[i] for i in group}.values())
        text = distinct[0] if len(distinct) == 1 else (summarise(llm, distinct, max_words) if llm else
                                                        " / ".join(distinct))
        out.append(Merged(text, ids, tuple(group)))
    return out
