"""The program to ship: the best one within bounds the user sets (a token budget, a seed's cost).

`memarch front RUN --within tokens=240` and `memarch export RUN --within tokens=bm25_rag -o
memory.py` answer "which program is best for my task at my budget". Among the candidates measured
at the campaign's last stage, those that meet every bound (at most the value for an objective
that is minimised, at least the value for one that is maximised) compete. The best on the first
objective no bound names wins, maximised objectives before minimised ones (bound the tokens and the
best recall wins; bound the recall and the fewest tokens do); ties go to the other objectives in
that order, then to the earliest id.

A bound's value is a number, a candidate id (the value it measured) or the name of one of the
campaign's seeds (the value that seed measured here, on the same questions). Only numbers from
the campaign's last search stage choose: held-out numbers are shown, never used to pick.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class ChoiceError(ValueError):
    """A bound that cannot be read or resolved; the message names it."""


@dataclass(frozen=True)
class Bound:
    metric: str
    value: float
    direction: str  # the objective's: "min" bounds from above, "max" from below
    written: str  # what the user wrote after '=', e.g. "bm25_rag"

    def admits(self, metrics: Mapping[str, float]) -> bool:
        v = metrics.get(self.metric)
        if v is None or not math.isfinite(v):
            return False
        return v <= self.value if self.direction == "min" else v >= self.value

    def __str__(self) -> str:
        sign = "≤" if self.direction == "min" else "≥"
        try:
            float(self.written)
            named = ""
        except ValueError:
            named = f" ({self.written})"
        return f"{self.metric} {sign} {self.value:.4g}{named}"


_BOUND = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*")


def parse_bounds(texts: Sequence[str], objectives: Sequence[tuple[str, str]],
                 measured: Mapping[str, Mapping[str, float]], seeds: Mapping[str, str]) -> list[Bound]:
    """Read `METRIC=VALUE` bounds. METRIC must be one of the campaign's objectives; VALUE a number,
    a candidate id in `measured`, or a seed name in `seeds` (name -> candidate id)."""
    directions = dict(objectives)
    bounds = []
    for text in texts:
        m = _BOUND.fullmatch(text)
        if m is None:
            raise ChoiceError(f"--within {text!r}: write METRIC=VALUE, e.g. tokens=240 or tokens=bm25_rag")
        metric, value = m.groups()
        if metric not in directions:
            raise ChoiceError(f"--within {text!r}: {metric!r} is not an objective of this campaign "
                              f"(objectives: {', '.join(directions)})")
        bounds.append(Bound(metric, _resolve(text, metric, value, measured, seeds), directions[metric], value))
    return bounds


def _resolve(text: str, metric: str, value: str, measured: Mapping[str, Mapping[str, float]],
             seeds: Mapping[str, str]) -> float:
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ChoiceError(f"--within {text!r}: the bound must be a finite number")
        return number
    cid = seeds.get(value, value)
    if cid not in measured:
        what = f"seed {value!r} ({cid})" if value in seeds else repr(value)
        known = f"seeds here: {', '.join(sorted(seeds))}" if seeds else "this campaign has no seeds"
        raise ChoiceError(f"--within {text!r}: {what} has no measurement at the campaign's last stage "
                          f"(give a number, a measured candidate id, or a seed; {known})")
    if metric not in measured[cid]:
        raise ChoiceError(f"--within {text!r}: {cid} did not report {metric!r}")
    return float(measured[cid][metric])


def ranked_by(objectives: Sequence[tuple[str, str]], bounds: Sequence[Bound]) -> list[tuple[str, str]]:
    """The objectives in the order they decide: maximised ones first, and among those the ones no bound
    names first (bound the tokens and the best recall wins; bound the recall and the fewest tokens do)."""
    bounded = {b.metric for b in bounds}
    return sorted(objectives, key=lambda o: (o[0] in bounded, o[1] != "max"))


def _key(metrics: Mapping[str, float], order: Sequence[tuple[str, str]], cid: str) -> tuple:
    return (*(-metrics[m] if d == "max" else metrics[m] for m, d in order), cid)


def choose(measured: Mapping[str, Mapping[str, float]], objectives: Sequence[tuple[str, str]],
           bounds: Sequence[Bound], among: Sequence[str] | None = None) -> str | None:
    """The best candidate of `among` (default: every measured one) that meets every bound, or None."""
    names = [m for m, _d in objectives]
    fits = [c for c in (measured if among is None else among)
            if c in measured and all(m in measured[c] for m in names) and all(b.admits(measured[c]) for b in bounds)]
    order = ranked_by(objectives, bounds)
    return min(fits, key=lambda c: _key(measured[c], order, c), default=None)
