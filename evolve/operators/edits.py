"""Reading a model's answer: SEARCH/REPLACE blocks or a whole program, plus a change note.

Models wrap blocks in code fences, add prose around them, get marker lengths a little
wrong, drift trailing whitespace and shift indentation. The parser takes all of that; the
applier matches each SEARCH part exactly (up to trailing blanks) and, failing that, up to
a consistent indentation shift, re-indenting the REPLACE part to match. What cannot be
applied becomes a problem message, with the closest lines the program does have, for the
model to fix in its next answer.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

_HEAD = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_TAIL = re.compile(r"^\s*>{5,9}\s*(REPLACE|UPDATED)\b.*$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_FENCE = re.compile(r"^(```|~~~)[ \t]*(\w*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_NOTE = re.compile(r"^\s*(?:[-*#>]\s*)*\**\s*(?:change[ _-]?note|note|change|summary)\s*\**\s*:\s*\**\s*(.+?)\s*$",
                   re.IGNORECASE)
MAX_NOTE = 200


@dataclass(frozen=True)
class EditBlock:
    search: str
    replace: str
    index: int  # 1-based position in the answer, for messages


@dataclass
class ParsedReply:
    blocks: list[EditBlock] = field(default_factory=list)
    rewrite: str | None = None  # a whole program, when the model gave one
    note: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def has_edits(self) -> bool:
        return bool(self.blocks) or self.rewrite is not None


def _clean_note(text: str) -> str:
    text = text.strip().strip("*`_ ").strip()
    return text[:MAX_NOTE]


def _unfence(part: list[str]) -> list[str]:
    """A fence line opening or closing a SEARCH/REPLACE part is the model's formatting, not code."""
    if part and _FENCE.match(part[0]):
        part = part[1:]
    if part and _FENCE.match(part[-1]):
        part = part[:-1]
    return part


def _parse_blocks(lines: list[str]) -> tuple[list[EditBlock], list[str], list[str]]:
    """Blocks, problems, and the lines outside any block (prose)."""
    blocks, problems, prose = [], [], []
    i = 0
    while i < len(lines):
        if not _HEAD.match(lines[i]):
            prose.append(lines[i])
            i += 1
            continue
        index = len(blocks) + len(problems) + 1
        start, i = i, i + 1
        search: list[str] = []
        while i < len(lines) and not _DIVIDER.match(lines[i]) and not _HEAD.match(lines[i]):
            search.append(lines[i])
            i += 1
        if i >= len(lines) or not _DIVIDER.match(lines[i]):
            problems.append(f"block {index} (line {start + 1} of your answer): SEARCH has no ======= divider")
            continue
        i += 1
        replace: list[str] = []
        while i < len(lines) and not _TAIL.match(lines[i]) and not _HEAD.match(lines[i]):
            replace.append(lines[i])
            i += 1
        if i >= len(lines) or not _TAIL.match(lines[i]):
            problems.append(f"block {index} (line {start + 1} of your answer): no >>>>>>> REPLACE line ends it")
            continue
        i += 1
        blocks.append(EditBlock("\n".join(_unfence(search)), "\n".join(_unfence(replace)), index))
    return blocks, problems, prose


def _program_in(text: str) -> str | None:
    """The whole program in the answer: the last fenced block defining Memory, else None."""
    found = [m.group(3) for m in _CODE_FENCE.finditer(text) if m.group(2).lower() in ("", "python", "py")]
    programs = [code for code in found if re.search(r"^class\s+Memory\b", code, re.MULTILINE)]
    if programs:
        return programs[-1]
    if not found and re.search(r"^class\s+Memory\b", text, re.MULTILINE) and "<<<<<<<" not in text:
        return text.strip() + "\n"  # an unfenced program
    return None


def parse_reply(text: str, *, full_rewrite: bool = False) -> ParsedReply:
    """Edits and the change note from a model answer. A program alone is accepted in either mode."""
    blocks, problems, prose = _parse_blocks(text.splitlines())
    parsed = ParsedReply(blocks=blocks, problems=problems)
    if full_rewrite or not blocks:
        parsed.rewrite = _program_in(text) if not blocks else None
    in_fence = False
    fallback = ""
    for line in prose:
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = _NOTE.match(line)
        if m and not in_fence:
            parsed.note = _clean_note(m.group(1))
            break
        if not in_fence and not fallback and line.strip() and not line.lstrip().startswith("#"):
            fallback = _clean_note(line)
    parsed.note = parsed.note or fallback
    if not parsed.has_edits and not problems:
        wanted = "a complete program in one ```python block" if full_rewrite else "SEARCH/REPLACE blocks"
        parsed.problems.append(f"your answer contains no {wanted}; nothing was changed")
    return parsed


def _width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _windows(src: list[str], pat: list[str], loose: bool) -> list[tuple[int, int]]:
    """(start line, indentation shift) of every place `pat` matches in `src`.

    Strict: equal up to trailing blanks. Loose: equal up to surrounding blanks, with the
    same indentation shift on every non-blank line (a block quoted one level too shallow).
    """
    hits = []
    n = len(pat)
    anchor = next((k for k, p in enumerate(pat) if p.strip()), 0)
    for s in range(len(src) - n + 1):
        window = src[s:s + n]
        if not loose:
            if all(a.rstrip() == b.rstrip() for a, b in zip(window, pat)):
                hits.append((s, 0))
            continue
        if not all(a.strip() == b.strip() for a, b in zip(window, pat)):
            continue
        shift = _width(window[anchor]) - _width(pat[anchor])
        if all(_width(a) - _width(b) == shift for a, b in zip(window, pat) if b.strip()):
            hits.append((s, shift))
    return hits


def _reindent(lines: list[str], shift: int) -> list[str]:
    if shift == 0:
        return lines
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        else:
            body = line.expandtabs(4)
            out.append(" " * max(0, _width(body) + shift) + body.lstrip())
    return out


def _closest(src: list[str], pat: list[str]) -> str:
    n = max(1, len(pat))
    target = "\n".join(p.strip() for p in pat)
    best, best_at = 0.0, 0
    for s in range(max(1, len(src) - n + 1)):
        ratio = difflib.SequenceMatcher(None, target, "\n".join(x.strip() for x in src[s:s + n])).ratio()
        if ratio > best:
            best, best_at = ratio, s
    if best < 0.5:
        return ""
    snippet = "\n".join(src[best_at:best_at + n])
    return f"\nThe closest lines in the program (line {best_at + 1}) are:\n{snippet}"


def _trim_blank(lines: list[str]) -> tuple[list[str], int, int]:
    """Lines without leading/trailing blank lines, and how many of each were dropped."""
    lead = next((k for k, x in enumerate(lines) if x.strip()), len(lines))
    trail = next((k for k, x in enumerate(reversed(lines)) if x.strip()), 0) if lead < len(lines) else 0
    return lines[lead:len(lines) - trail], lead, trail


def _drop_blank(lines: list[str], lead: int, trail: int) -> list[str]:
    """Drop up to `lead`/`trail` blank lines at the ends: what was dropped from SEARCH goes from REPLACE."""
    while lead and lines and not lines[0].strip():
        lines, lead = lines[1:], lead - 1
    while trail and lines and not lines[-1].strip():
        lines, trail = lines[:-1], trail - 1
    return lines


def apply_blocks(source: str, blocks: list[EditBlock],
                 done: set[tuple[str, str]] | None = None) -> tuple[str, list[str]]:
    """Apply blocks in order; returns the new source and a problem message per block that failed.

    `done` collects the blocks applied so far in a conversation; a block in it that no longer
    matches (because it was applied) is skipped instead of reported.
    """
    src = source.splitlines()
    problems: list[str] = []
    for block in blocks:
        pat, lead, trail = _trim_blank(block.search.splitlines())
        rep = _drop_blank(block.replace.splitlines(), lead, trail)
        if not pat:
            problems.append(f"block {block.index}: the SEARCH part is empty; quote the existing lines to change")
            continue
        hits = _windows(src, pat, loose=False) or _windows(src, pat, loose=True)
        if len(hits) > 1:
            lines = ", ".join(str(h[0] + 1) for h in hits[:5])
            problems.append(f"block {block.index}: the SEARCH part matches {len(hits)} places (lines {lines}); "
                            "include more surrounding lines so it matches one")
            continue
        key = (block.search.strip(), block.replace.strip())
        if not hits and done is not None and key in done:
            continue  # re-sent after it was applied in an earlier round of the same conversation
        if not hits:
            head = pat[0].strip()[:80]
            problems.append(f"block {block.index}: the SEARCH part (starting {head!r}) is not in the program; "
                            f"SEARCH must quote existing lines exactly{_closest(src, pat)}")
            continue
        start, shift = hits[0]
        src[start:start + len(pat)] = _reindent(rep, shift)
        if done is not None:
            done.add(key)
    out = "\n".join(src)
    return (out + "\n" if out and (source.endswith("\n") or not source) else out), problems
