"""BANKING77 with frozen MiniLM vectors: how far past a kNN label vote can any reader of them go?

On the `search` split only (train; the test split is never read), with the vectors a campaign's
memories see, this compares the label vote the evolved memories use (`c0079`'s knobs, from
`bench/banking77_vote_sim.py`) with classifiers a memory could hold instead: nearest class
centroid, shrinkage LDA, and the softmax regression `label_model` fits (200 full-batch Adam
steps), alone and mixed with the vote as `label_model` mixes them. Classifiers are fitted on
what the stream has shown before each block of 250 queries (refitted per block), as an online
memory would. A reader that clears the vote by more than the split's standard error (~0.6
points on 1,998 queries) is worth a component (docs/EXPERIENCE.md, issue #14).

    python -m bench.banking77_ceiling
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/banking77_ceiling.py` works too

from bench.banking77_vote_sim import Stream  # noqa: E402
from design_space.components.retrieve.label_model import fit_softmax  # noqa: E402

VOTE = dict(topk=12, minsim=0.2045, lex_pool=0, lex_w=0.0, vote_pool=9, power=12.55)  # c0079's knobs
BLOCK = 250


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def vote_scores(s: Stream, n_classes: int, y: np.ndarray) -> np.ndarray:
    """The label vote's weights per class (normalised), with c0079's pool and power."""
    out = np.zeros((len(s.gold), n_classes))
    for i in range(len(s.gold)):
        for d in s.order[i, : VOTE["vote_pool"]]:
            out[i, y[d]] += max(float(s.sims[i, d]), 0.0) ** VOTE["power"]
    return out / np.maximum(out.sum(1, keepdims=True), 1e-30)


def centroid(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    mu = np.stack([x[y == c].mean(0) for c in range(k)])
    return unit(q) @ unit(mu).T


def lda(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int, shrink: float = 0.1) -> np.ndarray:
    x, q = unit(x), unit(q)
    mu = np.stack([x[y == c].mean(0) for c in range(k)])
    r = x - mu[y]
    cov = r.T @ r / len(x)
    cov = (1 - shrink) * cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov))
    w = np.linalg.solve(cov, mu.T)
    return q @ w - 0.5 * np.sum(mu * w.T, axis=1)


def softmax_regression(x: np.ndarray, y: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Class probabilities from `label_model`'s own fit (200 Adam steps, L2 1e-6)."""
    w, b = fit_softmax(unit(x).astype(np.float32), y, k, steps=200)
    z = unit(q).astype(np.float32) @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def blocked(s: Stream, y: np.ndarray, k: int, fit) -> np.ndarray:
    """Scores for every query, the classifier refitted on what came before each block."""
    out = []
    for start in range(0, len(s.gold), BLOCK):
        a = int(s.available[start])
        out.append(fit(s.vectors[:a], y[:a], s.query_vectors[start:start + BLOCK], k))
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "banking77_ceiling.json"))
    args = ap.parse_args()
    s = Stream("full")
    classes = sorted(set(s.labels))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[lab] for lab in s.labels])
    gold = np.array([index[g] for g in s.gold])
    k = len(classes)
    vote = vote_scores(s, k, y)
    soft = blocked(s, y, k, softmax_regression)
    rows = {
        "label vote (c0079's knobs)": vote,
        "nearest class centroid": blocked(s, y, k, centroid),
        "shrinkage LDA (0.1)": blocked(s, y, k, lda),
        "softmax regression (label_model's fit)": soft,
        **{f"vote + {w} x softmax regression": vote + w * soft for w in (0.5, 1.0, 2.0)},
    }
    n = len(gold)
    se = math.sqrt(0.93 * 0.07 / n)
    print(f"banking77 search split, full fidelity: {n} queries; standard error at 0.93 ~ {100 * se:.2f} points")
    print(f"{'reader of the MiniLM vectors':<42} accuracy")
    result = {}
    for name, scores in rows.items():
        # the vote's own row replays vote_labels exactly (tie-breaks included)
        acc = s.accuracy(**VOTE) if scores is vote else float((scores.argmax(1) == gold).mean())
        result[name] = round(acc, 4)
        print(f"{name:<42} {acc:.4f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"queries": n, "standard_error": se, "accuracy": result}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
