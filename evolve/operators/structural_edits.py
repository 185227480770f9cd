"""The catalogue of structural edits (libcst, no LLM). Each edit answers None when it does not
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
from functools import lru_cache
from typing import Callable

import libcst as cst

from evolve.operators.index_swap import swap_index
from evolve.operators.pipeline_edits import insert_component, remove_component, replace_component

MARK = "memarch-step:"
_BASE = re.compile(r"^class (_MemoryBase\d+)\(", re.MULTILINE)

# A parent is edited many times: its (immutable) libcst tree is parsed once.
_parse = lru_cache(maxsize=64)(cst.parse_module)

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


def _wrap(code: str, template: str, kind: str) -> tuple[str, str] | None:
    if f"{MARK} {kind}" in code:
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


class _Unwrap(cst.CSTTransformer):
    """Drop the outermost added layer (the last `Memory` class with a step mark) and its knob."""

    def __init__(self, base: str, knobs: set[str]) -> None:
        self.base, self.knobs = base, knobs

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body = []
        for stmt in updated.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Memory":
                continue
            if isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign):
                target = stmt.body[0].targets[0].target
                if isinstance(target, cst.Name) and target.value in self.knobs:
                    continue
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == self.base:
                stmt = stmt.with_changes(name=cst.Name("Memory"))
            body.append(stmt)
        return updated.with_changes(body=body)


def remove_step(code: str, rng: random.Random) -> tuple[str, str] | None:
    bases = [m.group(1) for m in _BASE.finditer(code)]
    if bases:
        base = bases[-1]
        n = base[len("_MemoryBase"):]
        last = code.rfind(MARK)
        kind = code[last + len(MARK):].split()[0] if last >= 0 else "step"
        new = _parse(code).visit(_Unwrap(base, {f"CONTEXT_TURNS_{n}", f"NEIGHBOURS_{n}"})).code
        return new, f"remove the added {kind} step"
    module = _parse(code)
    for stmt in module.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Memory":
            for fn in stmt.body.body:
                if isinstance(fn, cst.FunctionDef) and fn.name.value == "manage":
                    lines = [module.code_for_node(st).strip() for st in fn.body.body]
                    lines = [ln for ln in lines if not ln.startswith(('"', "'", "#"))]
                    if all(ln in ("pass", "return", "return None") for ln in lines):
                        return None
                    return _Empty().run(module), "drop the manage step (does maintenance earn its cost?)"
    return None


class _Empty(cst.CSTTransformer):
    def run(self, module: cst.Module) -> str:
        return module.visit(self).code

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        if updated.name.value != "manage":
            return updated
        return updated.with_changes(body=cst.IndentedBlock(body=[cst.parse_statement("return None\n")]))


EDITS: dict[str, tuple[Edit, float]] = {
    "swap_index": (swap_index, 1.0),
    "insert_component": (insert_component, 1.5),
    "replace_component": (replace_component, 1.0),
    "remove_component": (remove_component, 0.5),
    "context": (add_context, 1.0),
    "neighbours": (add_neighbours, 1.0),
    "remove_step": (remove_step, 0.5),
}
