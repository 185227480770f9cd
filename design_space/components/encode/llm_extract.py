"""LLM-based fact extraction and summarisation, with rule-based fallbacks.

Every function takes `llm` (``kit.llm``: None or prompt -> str). With no model, or when the
program's call budget is spent, the rule-based path answers instead, so a program that
uses these never stops working for lack of a model.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from design_space.components.encode.entities import tokens
from design_space.components.encode.facts import Fact, extract_facts, sentences

LLM = Callable[[str], str] | None
_LINE = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])?\s*(.+?)\s*$")


def ask(llm: LLM, prompt: str) -> str | None:
    """The model's reply, or None when there is no model or its call budget is spent."""
    if llm is None:
        return None
    try:
        return llm(prompt)
    except RuntimeError:  # LLMBudgetExceeded: the program falls back to rules
        return None


def reply_lines(reply: str) -> list[str]:
    """Bullet or numbered lines of a reply, markers stripped, blanks and 'none' dropped."""
    out = []
    for raw in reply.splitlines():
        m = _LINE.match(raw)
        if m and m.group(1) and m.group(1).lower().strip(".") not in ("none", "n/a", "no facts"):
            out.append(m.group(1))
    return out


FACT_PROMPT = ("Extract the facts about people, places, preferences, plans and events stated in this "
               "message. One short self-contained fact per line, naming the subject. Write NONE if there are none.\n"
               "Speaker: {speaker}\nMessage: {text}\nFacts:")


def llm_facts(llm: LLM, text: str, speaker: str = "") -> list[str]:
    """Fact sentences: from the model when one is available, else rendered rule-based facts."""
    reply = ask(llm, FACT_PROMPT.format(speaker=speaker or "user", text=text))
    if reply is not None:
        return reply_lines(reply)
    return [f.render() for f in extract_facts(text, speaker)]


def rule_facts(text: str, speaker: str = "") -> list[Fact]:
    return extract_facts(text, speaker)


SUMMARY_PROMPT = "Summarise the following in at most {words} words, keeping names, dates and facts:\n{text}\nSummary:"


def extractive_summary(texts: Sequence[str], max_words: int = 60) -> str:
    """Pick the sentences densest in the passage's frequent content words, in original order."""
    sents = [s for t in texts for s in sentences(t)]
    if not sents:
        return ""
    freq: dict[str, int] = {}
    for s in sents:
        for w in set(tokens(s)):
            freq[w] = freq.get(w, 0) + 1
    scored = sorted(range(len(sents)), key=lambda i: -sum(freq.get(w, 0) for w in set(tokens(sents[i])))
                    / (1 + len(sents[i].split()) ** 0.5))
    chosen, words = set(), 0
    for i in scored:
        n = len(sents[i].split())
        if words and words + n > max_words:
            continue
        chosen.add(i)
        words += n
    return " ".join(sents[i] for i in sorted(chosen))


def summarise(llm: LLM, texts: Sequence[str], max_words: int = 60) -> str:
    """An abstractive summary from the model, else an extractive one."""
    reply = ask(llm, SUMMARY_PROMPT.format(words=max_words, text="\n".join(texts)))
    if reply is not None and reply.strip():
        return " ".join(reply.split()[: max_words * 2])
    return extractive_summary(texts, max_words)
