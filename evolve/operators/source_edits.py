"""Line-level edits of a program's module: imports and knob constants, found by Python's parser.

Structural operators add or remove a component's call line; these helpers keep the rest of the
module in step (its import, its knobs) while leaving every other line — comments, layout —
exactly as it was.
"""
from __future__ import annotations

import ast


def _lines(code: str) -> list[str]:
    return code.splitlines(keepends=True)


def segment(lines: list[str], node: ast.AST) -> str:
    """A node's source text, as `ast.get_source_segment` gives it, from the module's lines split once
    (that function splits the whole module again at every call)."""
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
    return (lines[first].encode()[node.col_offset:].decode() + "".join(lines[first + 1:last])
            + lines[last].encode()[:node.end_col_offset].decode())


def _loaded_names(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def add_import(code: str, line: str) -> str:
    """Add `from M import N` after the last top-level import, unless N is already imported from M."""
    tree = ast.parse(code)
    new = ast.parse(line).body[0]
    assert isinstance(new, ast.ImportFrom)
    want = {a.name for a in new.names}
    last = 0
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            last = stmt.end_lineno or stmt.lineno
            if isinstance(stmt, ast.ImportFrom) and stmt.module == new.module:
                want -= {a.asname or a.name for a in stmt.names}
    if not want:
        return code
    lines = _lines(code)
    lines.insert(last, f"from {new.module} import {', '.join(sorted(want))}\n")
    return "".join(lines)


def drop_unused_imports(code: str, names: set[str]) -> str:
    """Remove the named imports that nothing in the module uses any more."""
    tree = ast.parse(code)
    used = _loaded_names(tree)
    lines = _lines(code)
    for stmt in sorted((s for s in tree.body if isinstance(s, ast.ImportFrom)), key=lambda s: -s.lineno):
        keep = [a for a in stmt.names if (a.asname or a.name) not in names or (a.asname or a.name) in used]
        if len(keep) == len(stmt.names):
            continue
        text = "" if not keep else "from %s import %s\n" % (
            stmt.module, ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in keep))
        lines[stmt.lineno - 1:stmt.end_lineno] = [text] if text else []
    return "".join(lines)


def _knob_statements(tree: ast.Module) -> dict[str, ast.Assign]:
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id.isupper():
            out[stmt.targets[0].id] = stmt
    return out


def module_constants(code: str) -> set[str]:
    return set(_knob_statements(ast.parse(code)))


def drop_unused_knobs(code: str, names: set[str]) -> str:
    """Remove module constants among `names` that nothing reads any more."""
    tree = ast.parse(code)
    reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    lines = _lines(code)
    for name, stmt in sorted(_knob_statements(tree).items(), key=lambda kv: -kv[1].lineno):
        if name in names and name not in reads:
            del lines[stmt.lineno - 1:stmt.end_lineno]
    return "".join(lines)


def insert_knobs(code: str, knobs: dict[str, str]) -> str:
    """Add `NAME = literal` lines (values already as source text) after the module's knob block."""
    tree = ast.parse(code)
    have = _knob_statements(tree)
    todo = {n: v for n, v in knobs.items() if n not in have}
    if not todo:
        return code
    first_def = next((s.lineno for s in tree.body if isinstance(s, (ast.ClassDef, ast.FunctionDef))), None)
    before = [s for s in have.values() if first_def is None or s.lineno < first_def]
    if before:
        at = max(s.end_lineno or s.lineno for s in before)
    else:
        at = max((s.end_lineno or s.lineno for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))), default=0)
    lines = _lines(code)
    block = [f"{n} = {v}\n" for n, v in todo.items()]
    if not before:
        block = ["\n"] + block
    lines[at:at] = block
    return "".join(lines)


def set_knob_values(code: str, values: dict[str, str]) -> str:
    """Set existing module constants to the given literal source text (other lines untouched)."""
    tree = ast.parse(code)
    lines = _lines(code)
    for name, stmt in _knob_statements(tree).items():
        if name in values and stmt.lineno == stmt.end_lineno:
            line = lines[stmt.lineno - 1]
            head = line[:len(line.encode("utf-8")[:stmt.value.col_offset].decode("utf-8"))]
            tail = line[len(line.encode("utf-8")[:stmt.value.end_col_offset].decode("utf-8")):]
            lines[stmt.lineno - 1] = head + values[name] + tail
    return "".join(lines)
