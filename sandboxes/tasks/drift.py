"""A seeded synthetic experience stream with concept drift: the right answer for a kind changes midway.

Inputs come in `kinds`; each kind has its own signature words (pseudo-words, so no
embedder knows them in advance) and every input mixes two of them with shared filler
words. Each kind maps to one of `labels` labels. At `drift_point` (a share of the stream)
a `drift_fraction` of the kinds switch to a different label, so old experiences of those
kinds now give the wrong answer: a memory that never forgets or resolves conflicts keeps
voting for the old label. Everything is fixed by (job seed, ``data_seed``, ``order_seed``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sandboxes.tasks.base import TaskError
from sandboxes.tasks.experience import (
    Example,
    ExperienceParams,
    ExperienceStream,
    build_stream,
    check,
)
from sandboxes.tasks.params import check_fidelity, parse_params

SYLLABLES = ("ba", "ko", "ri", "te", "mu", "sa", "lo", "ne", "vi", "du", "ga", "pe", "zo", "fi", "ha", "tu")
FILLER = ("please", "about", "my", "the", "again", "today", "help", "with", "issue", "question", "need", "this")


@dataclass
class DriftParams(ExperienceParams):
    kinds: int = 16
    labels: int = 8
    signature_words: int = 3
    drift_point: float = 0.5  # share of the stream before the drift
    drift_fraction: float = 0.5  # share of kinds whose label changes
    stream_length: int = 800  # full fidelity
    subset_length: int = 400
    smoke_length: int = 200
    warm_per_kind: int = 0  # pre-drift examples per kind replayed before the stream (0: cold start)
    data_seed: int = 0  # vary the vocabulary and kind→label map


def _words(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        if w not in out:
            out.append(w)
    return out


def plan(p: DriftParams, seed: int) -> tuple[list[list[str]], list[str], list[str]]:
    """Per kind: its signature words, its label before the drift and after it."""
    rng = random.Random(f"drift:{seed}:{p.data_seed}")
    vocab = _words(rng, p.kinds * p.signature_words)
    signature = [vocab[k * p.signature_words:(k + 1) * p.signature_words] for k in range(p.kinds)]
    names = [f"label_{chr(97 + i)}" if i < 26 else f"label_{i}" for i in range(p.labels)]
    before = [names[k % p.labels] for k in range(p.kinds)]
    drifting = set(rng.sample(range(p.kinds), round(p.kinds * p.drift_fraction)))
    # shift by half the label set so the new label is never the old one
    after = [names[(k + max(1, p.labels // 2)) % p.labels] if k in drifting else before[k] for k in range(p.kinds)]
    return signature, before, after


class DriftStream:
    name = "drift"

    def build(self, params: dict[str, Any], fidelity: str, seed: int) -> ExperienceStream:
        p = parse_params(DriftParams, "drift", params)
        check(p, "drift")
        check_fidelity(fidelity)
        if p.kinds < 2 or p.labels < 2 or p.signature_words < 2:
            raise TaskError("drift task: parameters 'kinds', 'labels' and 'signature_words' must be >= 2")
        if not 0.0 < p.drift_point < 1.0 or not 0.0 <= p.drift_fraction <= 1.0:
            raise TaskError("drift task: 'drift_point' must be in (0, 1) and 'drift_fraction' in [0, 1]")
        length = {"smoke": p.smoke_length, "subset": p.subset_length, "full": p.stream_length}[fidelity]
        if length < 2:
            raise TaskError("drift task: stream lengths must be >= 2")
        signature, before, after = plan(p, seed)
        order = random.Random(f"drift-order:{seed}:{p.data_seed}:{p.order_seed}")
        drift_at = max(1, min(length - 1, round(length * p.drift_point)))

        def example(i: int, kind: int, label: str, tag: str) -> Example:
            words = order.sample(signature[kind], 2) + order.sample(FILLER, 2)
            order.shuffle(words)
            return Example(key=f"{tag}{i}", text=" ".join(words), label=label)

        warm = [example(i * p.kinds + k, k, before[k], "w") for i in range(p.warm_per_kind) for k in range(p.kinds)]
        order.shuffle(warm)
        stream = []
        for i in range(length):
            k = order.randrange(p.kinds)
            stream.append(example(i, k, before[k] if i < drift_at else after[k], "s"))
        return build_stream("drift", warm, stream, p, drift_at=drift_at)

    def score(self, stream: ExperienceStream, transcript: dict[str, Any]) -> dict[str, Any]:
        from sandboxes.experience_scoring import score_experience

        return score_experience(stream, transcript)
