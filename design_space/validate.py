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
# What a program may not read or write on any object but its own (self, cls, super()): the state a
# component or the toolkit keeps to itself (its caches, the embedder's store of texts), and the
# hooks that hand an object's whole state over.
STATE_DUNDERS = frozenset({"__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__",
                           "__getnewargs_ex__", "__slots__", "__weakref__"})
ATTRIBUTE_BY_NAME = frozenset({"getattr", "setattr", "delattr", "hasattr"})
FORBIDDEN_NAMES = frozenset({"attrgetter", "methodcaller", "Formatter"})  # attribute access spelled as data
FORMAT_METHODS = frozenset({"format", "format_map"})  # a template's "{0.attr}" fields read attributes
OWN = frozenset({"self", "cls"})
REQUIRED_METHODS = ("__init__", "encode", "store", "retrieve", "manage")
STAGE_METHODS = REQUIRED_METHODS[1:]


@dataclass(frozen=True)
class Problem:
    code: str  # syntax | size | import | forbidden-call | forbidden-attr | private-attr | contract
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
        self._called: set[int] = set()  # ids of Name nodes in call position
        self.templates: dict[str, bool] = {}  # name -> every value assigned to it is a safe str literal
        self.imported: set[str] = set()  # names bound by import statements

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
        if isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_BY_NAME:
            self._called.add(id(node.func))
            self._check_by_name(node)
        self.generic_visit(node)

    def _check_by_name(self, node: ast.Call) -> None:
        """getattr(x, "name") and friends: a literal public name, or any name on the program's own objects."""
        if node.func.id in ("setattr", "delattr") and node.args and _root(node.args[0]) in self.imported:
            self.problems.append(Problem("forbidden-attr", f"{node.func.id}() on the imported "
                                         f"{_root(node.args[0])!r} is not allowed (a program keeps its state "
                                         f"on self)", node.lineno))
        if len(node.args) < 2 or (isinstance(node.args[0], ast.Name) and node.args[0].id in OWN):
            return
        name = node.args[1]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            self.problems.append(Problem("private-attr", f"{node.func.id}() on another object needs a literal "
                                         f"attribute name", node.lineno))
        elif name.value.startswith("_") or name.value in FORMAT_METHODS:
            self.problems.append(Problem("private-attr", f"{node.func.id}(..., {name.value!r}): attribute "
                                         f"{name.value!r} of another object is not allowed", node.lineno))

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in ("__builtins__", "__import__"):
            self.problems.append(Problem("forbidden-attr", f"use of {node.id} is not allowed", node.lineno))
        elif node.id in FORBIDDEN_NAMES:
            self.problems.append(Problem("forbidden-attr", f"use of {node.id} is not allowed", node.lineno))
        elif node.id in ATTRIBUTE_BY_NAME and id(node) not in self._called:
            self.problems.append(Problem("private-attr", f"{node.id} may only be called directly", node.lineno))

    def _check_targets(self, targets: list[ast.AST], line: int) -> None:
        for node in _stores(targets):
            if _root(node) in self.imported:
                self.problems.append(Problem("forbidden-attr", f"assignment into the imported "
                                             f"{_root(node)!r} is not allowed (a program keeps its state "
                                             f"on self)", line))
                return
            if _through_kit(node):
                self.problems.append(Problem("forbidden-attr", "assignment into self.kit is not allowed (the "
                                             "toolkit is the harness's; a program keeps its state on self)", line))
                return

    def visit_Assign(self, node: ast.Assign) -> None:
        self._check_targets(node.targets, node.lineno)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_targets([node.target], node.lineno)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_targets([node.target], node.lineno)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        self._check_targets(node.targets, node.lineno)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:  # ``for np.x in ...`` writes too
        self._check_targets([node.target], node.lineno)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._check_targets([node.optional_vars], getattr(node.optional_vars, "lineno", 0))
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._check_targets([node.target], getattr(node.target, "lineno", 0))
        self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> None:
        if node.name in FORBIDDEN_NAMES:
            self.problems.append(Problem("forbidden-attr", f"import of {node.name} is not allowed",
                                         getattr(node, "lineno", 0)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr in FORBIDDEN_ATTRS:
            self.problems.append(Problem("forbidden-attr", f"attribute .{attr} is not allowed", node.lineno))
        elif attr in FORBIDDEN_NAMES:
            self.problems.append(Problem("forbidden-attr", f"use of .{attr} is not allowed", node.lineno))
        elif (attr in STATE_DUNDERS or attr.startswith("_") and not attr.startswith("__")) and not _own(node.value):
            self.problems.append(Problem("private-attr", f"attribute .{attr} of another object is not allowed "
                                         f"(only self.{attr}: components and the toolkit keep their state to "
                                         f"themselves)", node.lineno))
        elif attr in FORMAT_METHODS and not self._safe_template(node.value):
            self.problems.append(Problem("private-attr", f".{attr}() needs a string literal template without "
                                         f"attribute fields such as '{{0.name}}' (or a module constant holding "
                                         f"one)", node.lineno))
        self.generic_visit(node)

    def _safe_template(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _safe_format(node.value)
        return isinstance(node, ast.Name) and self.templates.get(node.id, False)

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


def _stores(targets: list[ast.AST]) -> list[ast.AST]:
    """The attribute and subscript chains an assignment writes into (tuple targets unpacked; the
    index expressions of a subscript are read, not written: ``x[np.arange(n)] = v`` writes x)."""
    out, todo = [], list(targets)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Tuple, ast.List)):
            todo.extend(node.elts)
        elif isinstance(node, ast.Starred):
            todo.append(node.value)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            out.append(node)
    return out


def _through_kit(node: ast.AST) -> bool:
    """True for a chain that writes below ``self.kit`` (``self.kit.x = ...``, ``self.kit.embedder.y += 1``)."""
    chain = node.value if isinstance(node, (ast.Attribute, ast.Subscript)) else None
    while isinstance(chain, (ast.Attribute, ast.Subscript)):
        if (isinstance(chain, ast.Attribute) and chain.attr == "kit" and isinstance(chain.value, ast.Name)
                and chain.value.id == "self"):
            return True
        chain = chain.value
    return False


def _root(node: ast.AST) -> str:
    """The name an attribute or subscript chain starts from ('' if it starts from a call or a literal)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _imported(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.add(alias.asname or alias.name.split(".")[0])
    return out


def _own(node: ast.AST) -> bool:
    """self.x, cls.x, super().x"""
    if isinstance(node, ast.Name):
        return node.id in OWN
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super")


def _safe_format(template: str) -> bool:
    """No field of the template reads an attribute ('{0.x}', '{name.x}', nested in a format spec too)."""
    import string

    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return False
    for _text, field, spec, _conv in fields:
        if field and "." in field or spec and not _safe_format(spec):
            return False
    return True


def _templates(tree: ast.AST) -> dict[str, bool]:
    """Names whose every assignment is a safe string literal (prompt templates kept as constants)."""
    out: dict[str, bool] = {}
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        value: ast.AST | None = None
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("design_space"):
            for alias in node.names:  # the components' own prompt templates
                out[alias.asname or alias.name] = out.get(alias.asname or alias.name, True)
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets, value = [node.target], node.value if not isinstance(node, ast.AugAssign) else None
        elif isinstance(node, (ast.For, ast.comprehension, ast.With, ast.NamedExpr)):
            targets = [getattr(node, "target", None) or getattr(node, "optional_vars", None)]
        for target in targets:
            for name in ast.walk(target) if target is not None else ():
                if isinstance(name, ast.Name):
                    ok = (isinstance(value, ast.Constant) and isinstance(value.value, str)
                          and _safe_format(value.value) and target is name)
                    out[name.id] = out.get(name.id, True) and ok
    return out


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
        checker.templates = _templates(tree)
        checker.imported = _imported(tree)
        checker.visit(tree)
    except RecursionError:
        return problems + [Problem("syntax", "the program is nested too deeply to check")]
    return problems + checker.problems + _check_contract(checker)
