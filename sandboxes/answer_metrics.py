"""Answer metrics that need no LLM: token F1 with LoCoMo's normalisation, exact match.

Follows LoCoMo's ``task_eval/evaluation.py``: lower-case, drop commas and punctuation, drop
the articles a/an/the and "and", Porter-stem each token, then token F1. Multi-hop answers
are comma-separated parts scored by the best-matching predicted part each; open-domain
gold keeps its first ';'-separated answer; an abstention counts as right when the reply
says "no information available" or "not mentioned" (the phrases the official code checks).
"""
from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache

ABSTAIN_PHRASES = ("no information available", "not mentioned")
_PUNCT = set(string.punctuation)


@lru_cache(maxsize=1)
def _stemmer():
    try:
        from nltk.stem import PorterStemmer
    except ImportError:
        raise RuntimeError("answer F1 needs nltk (pip install nltk)") from None
    return PorterStemmer()


def normalize_answer(text: str) -> str:
    text = str(text).replace(",", "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the|and)\b", " ", text)
    return " ".join(text.split())


def _tokens(text: str) -> list[str]:
    stem = _stemmer().stem
    return [stem(w) for w in normalize_answer(text).split()]


def f1_score(prediction: str, gold: str) -> float:
    pred, ref = _tokens(prediction), _tokens(gold)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1_multi(prediction: str, gold: str) -> float:
    preds = [p.strip() for p in str(prediction).split(",")]
    refs = [g.strip() for g in str(gold).split(",")]
    return sum(max(f1_score(p, g) for p in preds) for g in refs) / len(refs)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def says_abstain(prediction: str) -> bool:
    low = str(prediction).lower()
    return any(p in low for p in ABSTAIN_PHRASES)


def score_answer(prediction: str, gold: str, category: str, abstain: bool) -> dict[str, float]:
    """F1 and EM of one answer, by the rule LoCoMo applies to the question's category."""
    if abstain:
        right = float(says_abstain(prediction))
        return {"f1": right, "em": right}
    if category == "open_domain":
        gold = gold.split(";")[0].strip()
    f1 = f1_multi(prediction, gold) if category == "multi_hop" else f1_score(prediction, gold)
    return {"f1": f1, "em": exact_match(prediction, gold)}
