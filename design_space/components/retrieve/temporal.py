"""Time-aware retrieval for temporal questions: dates in the question and on the events.

When the question names a date ("in May 2023", "on 7 June", "in 2022"), turns whose event
date — or a date they mention — falls within `window_days` of it are favoured. When it asks
about time without naming one ("When did ...", "How long ago ..."), turns that carry time
expressions ("yesterday", "last week", a weekday, a date) are favoured: they hold the answer.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import re

from design_space.components.retrieve.hits import Hits, blend

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH})\.?,?\s+(\d{{4}})\b", re.I)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?,?\s+(\d{{4}})\b", re.I)
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_ASKS_TIME = re.compile(r"\b(when|how long|what (year|month|day|date|time)|since when|how many (days|weeks|months|years))\b",
                        re.I)
_TIME_WORDS = re.compile(r"\b(yesterday|today|tonight|tomorrow|last|next|ago|week|weekend|month|year|"
                         rf"monday|tuesday|wednesday|thursday|friday|saturday|sunday|{_MONTH}|\d{{4}})\b", re.I)
DAY = 86400.0


def _utc(y: int, m: int, d: int) -> float:
    return dt.datetime(y, m, d, tzinfo=dt.timezone.utc).timestamp()


def date_ranges(text: str) -> list[tuple[float, float]]:
    """(start, end) POSIX times of the dates a text names, most specific first."""
    out, taken = [], []

    def free(m: re.Match) -> bool:
        return not any(a <= m.start() < b for a, b in taken)

    for m in _DAY_MONTH_YEAR.finditer(text):
        d, mon, y = int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3))
        if 1 <= d <= calendar.monthrange(y, mon)[1]:
            out.append((_utc(y, mon, d), _utc(y, mon, d) + DAY))
            taken.append(m.span())
    for m in _MONTH_DAY_YEAR.finditer(text):
        mon, d, y = _MONTHS[m.group(1).lower()], int(m.group(2)), int(m.group(3))
        if free(m) and 1 <= d <= calendar.monthrange(y, mon)[1]:
            out.append((_utc(y, mon, d), _utc(y, mon, d) + DAY))
            taken.append(m.span())
    for m in _MONTH_YEAR.finditer(text):
        if free(m):
            mon, y = _MONTHS[m.group(1).lower()], int(m.group(2))
            out.append((_utc(y, mon, 1), _utc(y, mon, calendar.monthrange(y, mon)[1]) + DAY))
            taken.append(m.span())
    for m in _YEAR.finditer(text):
        if free(m):
            y = int(m.group(1))
            out.append((_utc(y, 1, 1), _utc(y + 1, 1, 1)))
    return out


@functools.lru_cache(maxsize=8192)
def _row_ranges(text: str) -> tuple[tuple[float, float], ...]:
    """A turn's dates; every question re-reads the same turns, so each is parsed once."""
    return tuple(date_ranges(text))


@functools.lru_cache(maxsize=8192)
def _time_words(text: str) -> int:
    return len(_TIME_WORDS.findall(text))


def _near(t: float, ranges: list[tuple[float, float]], window: float) -> float:
    best = 0.0
    for a, b in ranges:
        gap = 0.0 if a <= t < b else min(abs(t - a), abs(t - b))
        best = max(best, max(0.0, 1.0 - gap / window) if window > 0 else float(gap == 0.0))
    return best


def boost_dates(hits: Hits, text: str, query, table, index, pool: int = 30, weight: float = 0.5,
                window_days: float = 14.0) -> Hits:
    asked = date_ranges(query.text)
    if not asked and not _ASKS_TIME.search(query.text):
        return hits
    candidates = index.search(text, max(len(hits), int(pool)))
    window = max(0.0, float(window_days)) * DAY
    bonus = {}
    for d, _s in list(hits) + list(candidates):
        row = table[d]
        if asked:
            b = _near(row.time, asked, window) if row.time else 0.0
            for r in _row_ranges(row.raw):
                b = max(b, _near(r[0], asked, window))
        else:
            b = min(1.0, _time_words(row.raw) / 2)
        bonus[d] = b
    return blend(hits, candidates, bonus, weight, len(hits))
