"""Static checks on a candidate program, before anything runs.

Returns every problem found, each a structured `Problem` (code, message, line) that a
person or an LLM fix-loop can act on. Static checks are a first fence, not the last: the
sandbox still contains whatever slips past them.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

MAX_BYTES = 64 * 1024
MAX_LINES = 2000
ALLOWED_IMPORTS = frozenset({
    "__future__", "abc", "bisect", "calendar", "collections", "copy", "dataclasses", "datetime", "difflib",
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


class _Checker(ast.NodeVisitor):
    """One pass over Python's own AST (C parser, line numbers for free): a validation costs a few ms."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.memory_classes: list[ast.ClassDef] = []
        self._class_depth = 0

    def _check_module(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        if top not in ALLOWED_IMPORTS:
            self.problems.append(Problem("import", f"import of {name!r} is not allowed (allowed: "
                                         f"{', '.join(sorted(ALLOWED_IMPORTS))})", node.lineno))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.problems.append(Problem("import", "relative imports are not allowed", node.lineno))
            return
        self._check_module(node.module or "", node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.problems.append(Problem("forbidden-call", f"call to {node.func.id}() is not allowed", node.lineno))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "__import__"):
            self.problems.append(Problem("forbidden-attr", f"use of {node.id} is not allowed", node.lineno))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRS:
            self.problems.append(Problem("forbidden-attr", f"attribute .{node.attr} is not allowed", node.lineno))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # getattr(x, "__globals__") and friends: forbidden attribute names spelled as strings
        value = node.value
        if isinstance(value, str) and value.startswith("__") and value in FORBIDDEN_ATTRS | FORBIDDEN_CALLS:
            self.problems.append(Problem("forbidden-attr", f"string {value!r} names a forbidden attribute",
                                         node.lineno))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self._class_depth == 0 and node.name == "Memory":
            self.memory_classes.append(node)
        self._class_depth += 1
        self.generic_visit(node)
        self._class_depth -= 1


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _check_contract(checker: _Checker) -> list[Problem]:
    if not checker.memory_classes:
        return [Problem("contract", "no top-level class named Memory")]
    node = checker.memory_classes[-1]
    line = node.lineno
    problems = []
    if not any(_dotted(b).split(".")[-1] == "MemoryProgram" for b in node.bases):
        problems.append(Problem("contract", "class Memory must subclass MemoryProgram", line))
    methods = {s.name for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
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
    # Python's own compiler: its message and line are the ones a person (or an LLM) knows how to
    # fix ("expected ':'" on the `def` line); compiling the tree also catches what only the
    # compiler checks (`return` outside a function, misplaced `nonlocal`).
    try:
        tree = ast.parse(source, "<candidate>")
        compile(tree, "<candidate>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return problems + [Problem("syntax", _syntax_message(exc), exc.lineno or 0)]
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; absurd nesting
        return problems + [Problem("syntax", f"{exc.__class__.__name__}: {exc}"[:200])]
    checker = _Checker()
    try:
        checker.visit(tree)
    except RecursionError:
        return problems + [Problem("syntax", "the program is nested too deeply to check")]
    return problems + checker.problems + _check_contract(checker)
