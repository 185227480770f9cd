"""Knobs: module-level UPPER_CASE numeric/boolean/string constants, read and rewritten in place.

Knob edits are the most frequent edits of a campaign, so they use Python's own (C) parser to
find each knob's literal and splice the new literal into the text: everything else in the
program — comments, layout — is untouched, and a knob-only child of a valid program is valid
(only literals changed), so it needs no second full validation.
"""
from __future__ import annotations

import ast
import functools
import io
import tokenize
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Knob:
    name: str
    value: Any


@dataclass(frozen=True)
class _Site:
    knob: Knob
    line: int  # 1-based line of the value
    col: int  # start column (characters) of the value on that line
    end_line: int
    end_col: int


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        inner = node.operand.value
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    raise ValueError("not a literal")


def _target(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name, value = stmt.targets[0].id, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        name, value = stmt.target.id, stmt.value
    else:
        return None
    if not (name.isupper() and not name.startswith("_")):
        return None
    return name, value


@functools.lru_cache(maxsize=1024)
def _sites(source: str) -> tuple[_Site, ...]:
    body = ast.parse(source).body
    lines = source.splitlines()
    sites = []
    for k, stmt in enumerate(body):
        found = _target(stmt)
        if found is None:
            continue
        # one statement per line only (`A = 1; B = 2` is not a knob)
        before = body[k - 1] if k else None
        after = body[k + 1] if k + 1 < len(body) else None
        if (before is not None and before.end_lineno == stmt.lineno) or (after is not None and after.lineno == stmt.end_lineno):
            continue
        name, value = found
        if value.lineno != value.end_lineno:
            continue  # a literal spread over lines (e.g. a prompt in parentheses) is text, not a knob
        try:
            knob = Knob(name, _literal(value))
        except ValueError:
            continue  # a computed constant or a collection: not a tunable knob
        if isinstance(knob.value, str) and _strings(ast.get_source_segment(source, value) or "") != 1:
            continue  # implicit concatenation: not one literal
        # ast columns are UTF-8 byte offsets: turn them into character offsets
        first = lines[value.lineno - 1].encode("utf-8")
        last = lines[value.end_lineno - 1].encode("utf-8")
        col = len(first[:value.col_offset].decode("utf-8"))
        end_col = len(last[:value.end_col_offset].decode("utf-8"))
        sites.append(_Site(knob, value.lineno, col, value.end_lineno, end_col))
    return tuple(sites)


def _strings(segment: str) -> int:
    try:
        return sum(t.type == tokenize.STRING for t in tokenize.generate_tokens(io.StringIO(segment).readline))
    except tokenize.TokenError:
        return 0


def read_knobs(source: str) -> list[Knob]:
    return [s.knob for s in _sites(source)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, str):
        return repr(value)
    raise TypeError(f"cannot write knob value of type {type(value).__name__}")


def write_knobs(source: str, values: dict[str, Any]) -> str:
    """Return `source` with the given module-level knobs set; every name must exist."""
    sites = {s.knob.name: s for s in _sites(source)}
    missing = set(values) - set(sites)
    if missing:
        raise KeyError(f"no knob named {sorted(missing)[0]!r}")
    lines = source.splitlines(keepends=True)
    # from the bottom up, so earlier positions stay valid
    for site in sorted((sites[n] for n in values), key=lambda s: (s.line, s.col), reverse=True):
        text = _text(values[site.knob.name])
        head = lines[site.line - 1][:site.col]
        tail = lines[site.end_line - 1][site.end_col:]
        lines[site.line - 1:site.end_line] = [head + text + tail]
    return "".join(lines)
