"""Rule-based fact extraction: (subject, attribute, value) triples from plain sentences.

Patterns cover the statements personal-memory benchmarks plant most (where someone lives
or moved, their job, pets and their names, likes, hobbies, names, relations), with
first-person subjects resolved to the speaker. A fact's `key` (subject, attribute) is what
conflict resolution compares: for a single-valued attribute a newer value supersedes.
Sentences no pattern matches are not facts; callers decide whether to keep them raw.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"(?P<subj>I|[A-Z][a-zA-Z\-]+)"
_VAL = r"(?P<val>[A-Za-z][A-Za-z \-']*?)"
_END = r"(?=\s+(?:for|with|and|but|because|since|last|this|next|now|today|yesterday|recently)\b|[.,!?;]|$)"

# (pattern, attribute, single-valued)
PATTERNS: list[tuple[re.Pattern, str, bool]] = [
    (re.compile(rf"\b{_NAME}\s+(?:just\s+|recently\s+|finally\s+)?(?:moved|relocated)\s+to\s+{_VAL}{_END}"), "location", True),
    (re.compile(rf"\b{_NAME}\s+(?:now\s+|still\s+)?(?:live|lives|lived|am living|is living)\s+in\s+{_VAL}{_END}"), "location", True),
    (re.compile(rf"\b{_NAME}\s+(?:now\s+)?(?:work|works|worked|am working|is working)\s+as\s+(?:an?\s+)?{_VAL}{_END}"), "job", True),
    (re.compile(rf"\b{_NAME}\s+(?:is|am|'m)\s+(?:now\s+)?an?\s+(?P<val>nurse|teacher|doctor|engineer|student|pilot|baker|chef|"
                rf"lawyer|artist|writer|architect|chemist|librarian|welder|translator|botanist|jeweller|surveyor|carpenter)\b"), "job", True),
    (re.compile(rf"\b{_NAME}\s+(?:has|have|had|got|adopted)\s+an?\s+(?P<val>[a-z]+\s+(?:called|named)\s+[A-Z][a-zA-Z\-]+)"), "pet", False),
    (re.compile(rf"\b{_NAME}\s+(?:absolutely\s+|really\s+)?(?:loves?|likes?|enjoys?|adores?)\s+(?:eating\s+|to eat\s+)?{_VAL}{_END}"), "likes", False),
    (re.compile(rf"\b{_NAME}\s+(?:took|take|takes|taken)\s+up\s+{_VAL}{_END}"), "hobby", False),
    (re.compile(rf"\b{_NAME}\s+(?:started|began)\s+(?:learning\s+|playing\s+|doing\s+)?{_VAL}{_END}"), "hobby", False),
    (re.compile(r"\b(?:my|My)\s+name\s+is\s+(?P<val>[A-Z][a-zA-Z\-]+)"), "name", True),
    (re.compile(r"\b(?:my|My)\s+favou?rite\s+(?P<attr>[a-z]+)\s+is\s+(?P<val>[A-Za-z][A-Za-z \-']*?)(?=[.,!?;]|$)"), "favourite", True),
]
_RELATION = re.compile(r"\b(?:my|My)\s+(?P<rel>[a-z]+)\s+(?P<name>[A-Z][a-zA-Z\-]+)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
FIRST_PERSON = {"I", "i", "My", "my", "Me", "me"}
# "Anna lives in Lisbon and works as a nurse": repeat the subject so each clause matches alone
_VERBS = r"(?:works|work|lives|live|has|have|loves|likes|took|moved|started)"
_NOT_NAME = r"(?!(?:My|The|A|An|Big|Our|Your|His|Her|Their|This|That|So|And|But|Oh|Well)\b)"
_CONJUNCT = re.compile(rf"\b(?P<subj>I|{_NOT_NAME}[A-Z][a-zA-Z\-]+)\s+(?P<rest>[^.;!?]*?)\s+and\s+(?=(?:now\s+|also\s+)?{_VERBS}\b)")


@dataclass(frozen=True)
class Fact:
    subject: str
    attribute: str
    value: str
    single: bool = True  # single-valued: a newer value for the same key supersedes the old one

    @property
    def key(self) -> tuple[str, str]:
        return (self.subject.lower(), self.attribute)

    def render(self) -> str:
        """The fact as a plain sentence ("Anna lives in Oslo.")."""
        verb = _VERB_PHRASES.get(self.attribute)
        if verb:
            return f"{self.subject} {verb} {self.value}."
        if self.attribute.startswith("relation_to_"):
            return f"{self.subject} is {self.attribute[len('relation_to_'):]}'s {self.value}."
        if self.attribute.startswith("favourite_"):
            return f"{self.subject}'s favourite {self.attribute[len('favourite_'):]} is {self.value}."
        return f"{self.subject}'s {self.attribute.replace('_', ' ')} is {self.value}."


_VERB_PHRASES = {"location": "lives in", "job": "works as a", "pet": "has a", "likes": "likes",
                 "hobby": "does", "name": "is called"}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def extract_facts(text: str, speaker: str = "") -> list[Fact]:
    """All pattern matches in `text`; first-person subjects become `speaker` (or 'user')."""
    me = speaker or "user"
    out: list[Fact] = []
    for sent in sentences(text):
        sent = _CONJUNCT.sub(lambda m: f"{m.group('subj')} {m.group('rest')} and {m.group('subj')} ", sent)
        for m in _RELATION.finditer(sent):
            out.append(Fact(m.group("name"), f"relation_to_{me.lower()}", m.group("rel"), True))
        for pattern, attribute, single in PATTERNS:
            for m in pattern.finditer(sent):
                groups = m.groupdict()
                subj = groups.get("subj") or me
                subj = me if subj in FIRST_PERSON else subj
                attr = f"favourite_{groups['attr']}" if attribute == "favourite" else attribute
                value = groups["val"].strip()
                if value:
                    out.append(Fact(subj, attr, value, single))
    seen: dict[tuple[str, str, str], Fact] = {}
    for f in out:
        seen.setdefault((f.subject.lower(), f.attribute, f.value.lower()), f)
    return list(seen.values())
