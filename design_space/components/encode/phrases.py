"""Rule-based phrase extraction for a knowledge graph: names, dates, numbers and noun phrases.

HippoRAG's open information extraction names the entities and phrases a passage is about;
this is its offline stand-in, with no model to download. A passage yields its capitalised
spans (people, places, titles; multi-word spans kept whole), dates ("7 May 2023", "Sunday",
"2019"), numbers with the noun they count ("3 goats"), noun phrases led by a determiner or a
possessive ("a dog", "the dog park", "Anna's new bike" -> "new bike"), and the last content word
of each clause or before a preposition ("...loves eating carrots." -> "carrots"; "teaches cello to"
-> "cello"), which is usually an object. Function words, common verbs, words ending in -ed and
adverbs ending in -ly are left out, so most verbs are never nodes:
the graph links passages through what they talk about, not through every word they share.
"""
from __future__ import annotations

import re

from design_space.components.encode.entities import STOPWORDS, entities

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december|"
           "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_DATE = re.compile(rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\b\.?(?:,?\s+\d{{4}})?"
                   rf"|(?:{_MONTHS})\b\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
                   rf"|(?:{_MONTHS})\s+\d{{4}}|(?:{_WEEKDAYS})\b|(?:1[6-9]|20)\d{{2}}\b)", re.I)
_NUMBER = re.compile(r"\b(\d+(?:[.,]\d+)?)(?:\s+([a-z][a-z\-]+))?")
_DETERMINERS = frozenset("a an the my your his her their our its this that these those some every each "
                         "another".split())
_PREPOSITIONS = frozenset("near under between behind across around through during without within along toward "
                          "towards upon among beside until per via against beyond inside outside onto last next ago yesterday today "
                          "tomorrow tonight".split())
# Common verbs in their base and -s forms: without a tagger these are what noun runs must stop at.
_VERBS = frozenset(w + s for w in "live like love work eat go say want need think know see come make take use play feel "
                   "enjoy teach paint read write buy visit start keep give tell try call ask seem leave put mean "
                   "become show hear run move believe bring happen sit stand lose pay meet learn change watch follow "
                   "stop speak spend grow open walk win offer remember consider appear wait serve die send expect "
                   "build stay fall cut reach kill remain suggest raise pass sell require report decide pull "
                   "cook bake drive ride swim sing dance draw plan hope help travel".split() for s in ("", "s"))
_LINKING = frozenset("to for with in on at from about of into over after by".split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*|[.,;:!?()\"]")
_CLAUSE_END = frozenset(".,;:!?()\"")


def _is_content(word: str) -> bool:
    w = word.lower()
    return (len(w) > 2 and w not in STOPWORDS and w not in _PREPOSITIONS and w not in _VERBS
            and not w.endswith("ly") and not w.endswith("ed") and w[0].isalpha() and not word[0].isupper())


def dates(text: str) -> list[str]:
    return [" ".join(m.group(0).lower().replace(",", " ").split()) for m in _DATE.finditer(text)]


def numbers(text: str) -> list[str]:
    in_dates = [m.span() for m in _DATE.finditer(text)]
    out = []
    for m in _NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in in_dates):
            continue
        noun = m.group(2)
        out.append(f"{m.group(1)} {noun}" if noun and noun not in STOPWORDS else m.group(1))
    return out


def noun_phrases(text: str) -> list[str]:
    """Determiner- or possessive-led runs of up to three content words, and clause-final content words."""
    words = _WORD.findall(text)
    out: list[str] = []
    covered: set[int] = set()
    for i, w in enumerate(words):
        lead = w.lower() in _DETERMINERS or w.endswith("'s")
        if not lead:
            continue
        run = []
        j = i + 1
        while j < len(words) and len(run) < 3 and _is_content(words[j]):
            run.append(j)
            j += 1
        if run:
            out.append(" ".join(words[k].lower() for k in run))
            covered.update(run)
    for i, w in enumerate(words):
        ends_clause = i + 1 == len(words) or words[i + 1] in _CLAUSE_END or words[i + 1].lower() in _LINKING
        if ends_clause and i not in covered and _is_content(w) and not w.lower().endswith("ing"):
            out.append(w.lower())
    return out


def phrases(text: str) -> list[str]:
    """Every node name the passage yields, lower-cased, in order, deduplicated."""
    found = dates(text)
    date_words = {w for d in found for w in d.split()}
    for e in entities(text):
        if e.lower() not in date_words:  # "Sunday" is already a date
            found.append(e.lower())
    found += numbers(text) + noun_phrases(text)
    return list(dict.fromkeys(p.replace("'s", "") for p in found if p))
