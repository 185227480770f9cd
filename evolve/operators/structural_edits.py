"""The catalogue of structural edits (no LLM: line edits located with `ast`). Each edit answers None when it does not
apply to a program, or (new code, one-line note).

- swap an index for another that supports every use the program makes of it (`index_swap`);
- in a pipeline program, insert, replace or remove a catalogue component in any slot
  (`pipeline_edits`, design_space/catalogue.py);
- change encoding granularity: index every turn together with the turns before it;
- add a retrieval step: expand each hit with its neighbouring turns;
- remove a step: undo an added wrapper, or empty `manage` (test whether it earns its cost).

Added steps are subclasses layered over the program (the original `Memory` is renamed), so
an edit never needs to understand the program's own data structures.
"""
from __future__ import annotations

import ast
import random
import re
from typing import Callable

from evolve.operators.index_swap import swap_index
from evolve.operators.pipeline_edits import insert_component, remove_component, replace_component

MARK = "memarch-step:"
_BASE = re.compile(r"^class (_MemoryBase\d+)\(", re.MULTILINE)

Edit = Callable[[str, random.Random], "tuple[str, str] | None"]

CONTEXT_WRAPPER = '''

CONTEXT_TURNS_{n} = 1


class Memory({base}, MemoryProgram):
    """{mark} context — each turn is encoded with the CONTEXT_TURNS_{n} turns before it in its session."""

    def __init__(self, kit):
        super().__init__(kit)
        self._recent_{n} = []

    def encode(self, event):
        if self._recent_{n} and self._recent_{n}[-1][0] != event.session:
            self._recent_{n} = []
        before = " ".join(t for _s, t in self._recent_{n}[-max(0, int(CONTEXT_TURNS_{n})):]) if CONTEXT_TURNS_{n} > 0 else ""
        self._recent_{n} = (self._recent_{n} + [(event.session, event.text)])[-8:]
        if before:
            event = _Event(id=event.id, text=before + " | " + event.text, time=event.time, speaker=event.speaker,
                           session=event.session, meta=event.meta)
        return super().encode(event)

    def store(self, records):
        return super().store(records)

    def retrieve(self, query):
        return super().retrieve(query)

    def manage(self, signal):
        return super().manage(signal)
'''

NEIGHBOUR_WRAPPER = '''

NEIGHBOURS_{n} = 1


class Memory({base}, MemoryProgram):
    """{mark} neighbours — each recalled turn is followed by the NEIGHBOURS_{n} turns around it."""

    def __init__(self, kit):
        super().__init__(kit)
        self._order_{n} = {{}}
        self._turns_{n} = []

    def encode(self, event):
        self._order_{n}[event.id] = len(self._turns_{n})
        self._turns_{n}.append((event.id, event.text))
        return super().encode(event)

    def store(self, records):
        return super().store(records)

    def retrieve(self, query):
        recall = super().retrieve(query)
        radius = max(0, int(NEIGHBOURS_{n}))
        seen = {{sid for item in recall.items for sid in item.source_ids}}
        items = []
        for item in recall.items:
            items.append(item)
            for sid in item.source_ids:
                at = self._order_{n}.get(sid)
                if at is None:
                    continue
                for j in range(at - radius, at + radius + 1):
                    if 0 <= j < len(self._turns_{n}) and self._turns_{n}[j][0] not in seen:
                        seen.add(self._turns_{n}[j][0])
                        items.append(_RecallItem(self._turns_{n}[j][1], (self._turns_{n}[j][0],), item.score * 0.5))
        return _Recall(tuple(items))

    def manage(self, signal):
        return super().manage(signal)
'''


def _next_base(code: str) -> int:
    return 1 + max((int(m.group(1)[len("_MemoryBase"):]) for m in _BASE.finditer(code)), default=0)


def _rename_memory(code: str, new: str) -> str:
    """Rename every class `Memory` to `new`, touching only the `class Memory` words (found by ast)."""
    lines = code.splitlines(keepends=True)
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ClassDef) and node.name == "Memory":
            raw = lines[node.lineno - 1].encode("utf-8")
            head, tail = raw[:node.col_offset], raw[node.col_offset:]
            lines[node.lineno - 1] = (head + re.sub(rb"^class\s+Memory\b", f"class {new}".encode(), tail, count=1)
                                      ).decode("utf-8")
    return "".join(lines)


def _add_import(code: str, line: str) -> str:
    """Insert an import after the last __future__ import (or at the top, after a module docstring)."""
    if line in code:
        return code
    body = ast.parse(code).body
    at = 0
    for stmt in body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            at = stmt.end_lineno or stmt.lineno
    if at == 0 and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        at = body[0].end_lineno or body[0].lineno  # keep the module docstring first
    lines = code.splitlines(keepends=True)
    if at and at <= len(lines) and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, line + "\n")
    return "".join(lines)


def has_step(code: str, kind: str) -> bool:
    """The program holds an added step of this kind (`context`, `neighbours`): the marker its
    wrapper template writes."""
    return f"{MARK} {kind}" in code


def _wrap(code: str, template: str, kind: str) -> tuple[str, str] | None:
    if has_step(code, kind):
        return None  # one layer of each kind is enough; its knob tunes it
    n = _next_base(code)
    base = f"_MemoryBase{n}"
    renamed = _rename_memory(code, base)
    renamed = _add_import(renamed, "from design_space import Event as _Event, MemoryProgram, "
                                   "Recall as _Recall, RecallItem as _RecallItem")
    return renamed.rstrip() + "\n" + template.format(n=n, base=base, mark=MARK), n


def add_context(code: str, rng: random.Random) -> tuple[str, str] | None:
    out = _wrap(code, CONTEXT_WRAPPER, "context")
    return (out[0], "encode each turn with the turn before it (granularity: turn → turn+context)") if out else None


def add_neighbours(code: str, rng: random.Random) -> tuple[str, str] | None:
    out = _wrap(code, NEIGHBOUR_WRAPPER, "neighbours")
    return (out[0], "expand each recalled turn with its neighbouring turns") if out else None


def _unwrap(code: str, base: str, knobs: set[str]) -> str:
    """Drop the outermost added layer (the module's `Memory` class, a step) and its knob, and name
    its base `Memory` again: line edits found by ast, every other line kept as it was."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    cut = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Memory":
            cut.append((min([stmt.lineno] + [d.lineno for d in stmt.decorator_list]), stmt.end_lineno))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id in knobs:
            cut.append((stmt.lineno, stmt.end_lineno))
        elif isinstance(stmt, ast.ClassDef) and stmt.name == base:
            lines[stmt.lineno - 1] = re.sub(rf"\bclass\s+{base}\b", "class Memory", lines[stmt.lineno - 1], count=1)
    for first, last in sorted(cut, reverse=True):
        del lines[first - 1:last]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(lines)).rstrip() + "\n"


def _empty_manage(code: str) -> str | None:
    """`Memory.manage` with its body replaced by `return None`; None when it already does nothing."""
    tree = ast.parse(code)
    for stmt in tree.body:
        if not (isinstance(stmt, ast.ClassDef) and stmt.name == "Memory"):
            continue
        for fn in stmt.body:
            if not (isinstance(fn, ast.FunctionDef) and fn.name == "manage"):
                continue
            idle = all(isinstance(st, ast.Pass) or (isinstance(st, ast.Return) and (
                st.value is None or (isinstance(st.value, ast.Constant) and st.value.value is None)))
                or (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str))
                for st in fn.body)
            if idle or fn.body[0].lineno == fn.lineno:  # nothing to drop, or a one-line def
                return None
            lines = code.splitlines(keepends=True)
            first = fn.body[0].lineno
            indent = lines[first - 1][:len(lines[first - 1]) - len(lines[first - 1].lstrip())]
            lines[first - 1:fn.end_lineno] = [indent + "return None\n"]
            return "".join(lines)
    return None


def remove_step(code: str, rng: random.Random) -> tuple[str, str] | None:
    bases = [m.group(1) for m in _BASE.finditer(code)]
    if bases:
        base = bases[-1]
        n = base[len("_MemoryBase"):]
        last = code.rfind(MARK)
        kind = code[last + len(MARK):].split()[0] if last >= 0 else "step"
        return _unwrap(code, base, {f"CONTEXT_TURNS_{n}", f"NEIGHBOURS_{n}"}), f"remove the added {kind} step"
    out = _empty_manage(code)
    return (out, "drop the manage step (does maintenance earn its cost?)") if out is not None else None


EDITS: dict[str, tuple[Edit, float]] = {
    "swap_index": (swap_index, 1.0),
    "insert_component": (insert_component, 1.5),
    "replace_component": (replace_component, 1.0),
    "remove_component": (remove_component, 0.5),
    "context": (add_context, 1.0),
    "neighbours": (add_neighbours, 1.0),
    "remove_step": (remove_step, 0.5),
}
