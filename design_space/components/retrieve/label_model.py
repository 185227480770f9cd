"""k-NN vote plus a label model: a softmax regression fitted on the stored examples' vectors.

A vote over the nearest examples reads a few neighbours; a linear model over every stored
vector reads where each label's examples lie as a whole. Mixed, they err less than either (on
BANKING77 with MiniLM vectors, measured on the search split by `bench/banking77_ceiling.py`).
The model is multinomial logistic regression (weak L2), fitted by full-batch Adam on the unit
vectors of the live labelled turns, refitted when the memory has grown by a quarter since the
last fit, and kept in `table.cache` (it counts in the footprint: a dimensions x labels matrix).
Each label's score is its share of the vote's weight plus `weight` times the model's
probability; the winner's voting turns are recalled, or, when no voter carries the model's
label, the latest stored example of it. Without vectors (a text index), or with `weight` 0, it
is the plain vote of `label_vote`.
"""
from __future__ import annotations

import numpy as np

from design_space.components.retrieve.hits import Hits
from design_space.components.retrieve.label_vote import label_weights

_KEY = "label_model"
_GROWTH = 1.25  # refit once the table holds this many times the turns of the last fit
_MIN_EXAMPLES = 8
_RATE = 0.05
_L2 = 1e-6


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def fit_softmax(x: np.ndarray, y: np.ndarray, k: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (d, k) and biases (k,) of a softmax regression on unit rows `x`, labels `y` in [0, k)."""
    n, d = x.shape
    w, b = np.zeros((d, k), np.float32), np.zeros(k, np.float32)
    target = np.eye(k, dtype=np.float32)[y]
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    for t in range(1, max(1, int(steps)) + 1):
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        r = (p - target) / n
        gw, gb = x.T @ r + 2 * _L2 * w, r.sum(0)
        mw, mb = 0.9 * mw + 0.1 * gw, 0.9 * mb + 0.1 * gb
        vw, vb = 0.999 * vw + 0.001 * gw * gw, 0.999 * vb + 0.001 * gb * gb
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        w -= _RATE * (mw / c1) / (np.sqrt(vw / c2) + 1e-8)
        b -= _RATE * (mb / c1) / (np.sqrt(vb / c2) + 1e-8)
    return w, b


def _model(table, index, steps: int) -> dict | None:
    """The fitted model in `table.cache`, refitted first when the table has grown enough (None
    while fewer than two labels are stored; that finding is kept too, so a table without labels
    is not scanned again per query)."""
    model = table.cache.get(_KEY)
    if model is None or len(table) >= max(model["at"] * _GROWTH, model["at"] + 1):
        model = _fit(table, index, steps)
        table.cache[_KEY] = model
    return model if model["labels"] else None


def _fit(table, index, steps: int) -> dict:
    vectors = index.vectors()
    rows = [n for n in range(min(len(table), len(vectors))) if table.alive[n] and table[n].label]
    labels = sorted({table[n].label for n in rows})
    if len(rows) < _MIN_EXAMPLES or len(labels) < 2:
        return {"at": len(table), "labels": []}
    code = {lab: i for i, lab in enumerate(labels)}
    y = np.array([code[table[n].label] for n in rows])
    w, b = fit_softmax(_unit(np.asarray(vectors[rows], dtype=np.float32)), y, len(labels), steps)
    example = {table[n].label: n for n in rows}  # the latest turn of each label
    return {"at": len(table), "labels": labels, "w": w, "b": b, "example": example}


def vote_with_model(hits: Hits, text: str, query, table, index, pool: int = 8, power: float = 6.0,
                    weight: float = 1.0, steps: int = 200) -> Hits:
    candidates, weights = label_weights(hits, text, table, index, pool, power)
    usable = float(weight) > 0 and hasattr(index, "vectors") and hasattr(index, "embed_query")
    model = _model(table, index, steps) if usable else None
    total = sum(weights.values()) or 1.0
    score = {lab: v / total for lab, v in weights.items()}
    if model is not None:
        z = _unit(np.asarray(index.embed_query(text), dtype=np.float32)) @ model["w"] + model["b"]
        p = np.exp(z - z.max())
        p /= p.sum()
        for lab, q in zip(model["labels"], p.tolist()):
            score[lab] = score.get(lab, 0.0) + float(weight) * q
    if not score:
        return hits
    first: dict[str, int] = {}
    for i, (d, _s) in enumerate(candidates):
        first.setdefault(table[d].label, i)
    best = max(score, key=lambda lab: (score[lab], -first.get(lab, len(candidates))))
    chosen = [(d, s) for d, s in candidates if table[d].label == best][: max(1, len(hits))]
    if chosen:
        return chosen
    doc = model["example"].get(best, -1) if model is not None else -1
    return [(doc, 0.0)] if 0 <= doc < len(table) and table.alive[doc] else hits
