"""Query rewriting: an LLM paraphrases the question into search queries; without one, keywords.

The rule-based rewrite drops question words and stop-words, which helps lexical and
hashed-embedding retrieval focus on the content of the question.
"""
from __future__ import annotations

from design_space.components.encode.entities import entities, tokens
from design_space.components.encode.llm_extract import LLM, ask, reply_lines

REWRITE_PROMPT = ("Rewrite this question as up to {n} short search queries over a personal conversation "
                  "history, one per line, no numbering.\nQuestion: {question}\nQueries:")


def keyword_query(question: str) -> str:
    words = entities(question) + tokens(question)
    return " ".join(dict.fromkeys(w.lower() for w in words)) or question


def rewrite(llm: LLM, question: str, n: int = 3) -> list[str]:
    """The original question first, then up to `n` rewrites (model) or one keyword query (rules)."""
    out = [question]
    reply = ask(llm, REWRITE_PROMPT.format(n=n, question=question))
    extra = reply_lines(reply)[:n] if reply is not None else [keyword_query(question)]
    for q in extra:
        if q and q not in out:
            out.append(q)
    return out
