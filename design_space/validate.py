"""Static checks on a candidate program, before anything runs.

Returns every problem found, each a structured `Problem` (code, message, line) that a
person or an LLM fix-loop can act on. Static checks are a first fence, not the last: the
sandbox still contains whatever slips past them.
"""
from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

MAX_BYTES = 64 * 1024
MAX_LINES = 2000
ALLOWED_IMPORTS = frozenset({
    "__future__", "abc", "bisect", "collections", "copy", "dataclasses", "datetime", "difflib",
    "enum", "functools", "hashlib", "heapq", "itertools", "json", "math", "operator", "random",
    "re", "statistics", "string", "textwrap", "time", "typing", "unicodedata",
    "numpy", "torch", "bm25s", "networkx", "design_space",
})
FORBIDDEN_CALLS = frozenset({"exec", "eval", "compile", "open", "__import__", "input", "breakpoint",
                             "globals", "locals", "vars", "memoryview", "exit", "quit"})
FORBIDDEN_ATTRS = frozenset({"__builtins__", "__subclasses__", "__globals__", "__code__", "__closure__",
                             "__loader__", "__spec__", "__import__", "__getattribute__", "__bases__",
                             "__mro__", "__dict__", "f_globals", "f_locals", "f_back", "gi_frame",
                             "tb_frame", "cr_frame", "system", "popen"})
REQUIRED_METHODS = ("__init__", "encode", "store", "retrieve", "manage")
STAGE_METHODS = REQUIRED_METHODS[1:]


@dataclass(frozen=True)
class Problem:
    code: str  # syntax | size | import | forbidden-call | forbidden-attr | contract
    message: str
    line: int = 0

    def render(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}[{self.code}] {self.message}"


class _Checker(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.memory_classes: list[tuple[cst.ClassDef, int]] = []
        self._class_depth = 0

    def _line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def _check_module(self, name: str, node: cst.CSTNode) -> None:
        top = name.split(".")[0]
        if top not in ALLOWED_IMPORTS:
            self.problems.append(Problem("import", f"import of {name!r} is not allowed (allowed: "
                                         f"{', '.join(sorted(ALLOWED_IMPORTS))})", self._line(node)))

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._check_module(cst.helpers.get_full_name_for_node(alias.name) or "", node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative:
            self.problems.append(Problem("import", "relative imports are not allowed", self._line(node)))
            return
        self._check_module(cst.helpers.get_full_name_for_node(node.module) or "", node)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in FORBIDDEN_CALLS:
            self.problems.append(Problem("forbidden-call", f"call to {node.func.value}() is not allowed",
                                         self._line(node)))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in ("__builtins__", "__import__"):
            self.problems.append(Problem("forbidden-attr", f"use of {node.value} is not allowed", self._line(node)))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in FORBIDDEN_ATTRS:
            self.problems.append(Problem("forbidden-attr", f"attribute .{node.attr.value} is not allowed",
                                         self._line(node)))

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        # getattr(x, "__globals__") and friends: forbidden attribute names spelled as strings
        try:
            value = node.evaluated_value
        except Exception:  # noqa: BLE001 - odd literals are simply not checked
            return
        if isinstance(value, str) and value in FORBIDDEN_ATTRS | FORBIDDEN_CALLS and value.startswith("__"):
            self.problems.append(Problem("forbidden-attr", f"string {value!r} names a forbidden attribute",
                                         self._line(node)))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self._class_depth == 0 and node.name.value == "Memory":
            self.memory_classes.append((node, self._line(node)))
        self._class_depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._class_depth -= 1


def _check_contract(checker: _Checker) -> list[Problem]:
    if not checker.memory_classes:
        return [Problem("contract", "no top-level class named Memory")]
    node, line = checker.memory_classes[-1]
    problems = []
    bases = [cst.helpers.get_full_name_for_node(b.value) or "" for b in node.bases]
    if not any(b.split(".")[-1] == "MemoryProgram" for b in bases):
        problems.append(Problem("contract", "class Memory must subclass MemoryProgram", line))
    methods = {s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef)}
    for m in STAGE_METHODS:
        if m not in methods:
            problems.append(Problem("contract", f"class Memory does not define {m}()", line))
    return problems


def _syntax_message(exc: SyntaxError) -> str:
    code = (exc.text or "").strip()
    where = f" at column {exc.offset}" if exc.offset else ""
    return f"{exc.msg}{where}" + (f": {code}" if code else "")


def validate_source(source: str) -> list[Problem]:
    """All problems with `source`; an empty list means it may be run."""
    problems: list[Problem] = []
    if len(source.encode("utf-8", "replace")) > MAX_BYTES:
        problems.append(Problem("size", f"program is larger than {MAX_BYTES} bytes"))
    if source.count("\n") > MAX_LINES:
        problems.append(Problem("size", f"program has more than {MAX_LINES} lines"))
    # Python's own compiler first: its message and line are the ones a person (or an LLM) knows how
    # to fix ("expected ':'" on the `def` line), where libcst reports where its parser gave up.
    try:
        compile(source, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return problems + [Problem("syntax", _syntax_message(exc), exc.lineno or 0)]
    except ValueError as exc:  # null bytes
        return problems + [Problem("syntax", str(exc))]
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:  # valid Python that libcst cannot read
        return problems + [Problem("syntax", str(exc).splitlines()[0] if str(exc) else "syntax error",
                                   getattr(exc, "raw_line", 0))]
    checker = _Checker()
    MetadataWrapper(module, unsafe_skip_copy=True).visit(checker)
    return problems + checker.problems + _check_contract(checker)
