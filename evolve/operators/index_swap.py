"""Swap an index for another of the same interface, decided from how the program uses it.

A program binds an index (`self.index = BM25Index(K1, B)`); the swap applies when every use of
that binding is a method the new class also has (`add`, `remove`, `search`, ...) and every
query it searches with is text (BM25 cannot search with a vector). Nothing is decided from
substrings of the source, so an import path or a comment never blocks a swap.

Constructor arguments travel by parameter name: `k1`/`b` survive BM25 → hybrid; a parameter
the new class needs and the program lacks becomes a module knob (`INDEX_K1 = 1.2`), so a swap
can always be undone and no knob is left dead: knobs only the old call used are removed, and
so is the import of a class no longer used.
"""
from __future__ import annotations

import ast
import inspect
import random
from dataclasses import dataclass

from design_space.catalogue import BY_FUNCTION, INDEXES, knob_text
from evolve.operators.source_edits import add_import, drop_unused_imports, drop_unused_knobs, insert_knobs, \
    segment

_TEXTUAL_METHODS = {"join", "format", "strip", "lower", "upper", "replace", "removeprefix", "removesuffix"}
_LEN = "__len__"


@dataclass(frozen=True)
class _Binding:
    cls: str
    ref: tuple[str, str]  # ("self", attr) or ("", name)
    call: ast.Call


def _methods(cls: str) -> set[str]:
    obj = INDEXES[cls].load()
    return {n for n, v in vars(obj).items() if callable(v) and (not n.startswith("_") or n == _LEN)}


def _params(cls: str) -> list[inspect.Parameter]:
    sig = inspect.signature(INDEXES[cls].load().__init__)
    return [p for p in sig.parameters.values() if p.name != "self"]


def _ref(node: ast.AST) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return ("self", node.attr)
    if isinstance(node, ast.Name):
        return ("", node.id)
    return None


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    out = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[id(child)] = node
    return out


def _bindings(tree: ast.Module) -> list[_Binding]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and node.value.func.id in INDEXES:
            ref = _ref(node.targets[0])
            if ref is not None:
                out.append(_Binding(node.value.func.id, ref, node.value))
    return out


def _textual(expr: ast.AST, fn: ast.AST | None, depth: int = 0) -> bool:
    """Is this expression certainly text? (attribute `.text`, a string, an f-string, string methods,
    or a local name every assignment of which is textual)."""
    if depth > 4:
        return False
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, str)
    if isinstance(expr, ast.JoinedStr):
        return True
    if isinstance(expr, ast.Attribute):
        return expr.attr == "text"
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _textual(expr.left, fn, depth + 1) or _textual(expr.right, fn, depth + 1)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _TEXTUAL_METHODS:
        return True
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        from design_space.catalogue import QUERY_FUNCTIONS

        return expr.func.id in QUERY_FUNCTIONS or expr.func.id == "str"
    if isinstance(expr, ast.Name) and fn is not None:
        values = [n.value for n in ast.walk(fn) if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        args = {a.arg for a in fn.args.args} if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) else set()
        if expr.id in args:
            return False
        return bool(values) and all(_textual(v, fn, depth + 1) for v in values)
    return False


def _uses(tree: ast.Module, binding: _Binding) -> tuple[set[str], bool] | None:
    """The methods the program calls on the binding and whether every search is by text;
    None when the object is used any other way (passed along, an attribute read, subscripted)."""
    parents = _parents(tree)
    methods: set[str] = set()
    by_text = True
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def owner(node: ast.AST) -> ast.AST | None:  # the innermost function around a node
        around = [f for f in funcs if f.lineno <= node.lineno <= f.end_lineno]
        return min(around, key=lambda f: f.end_lineno - f.lineno) if around else None

    for node in ast.walk(tree):
        if _ref(node) != binding.ref or (binding.ref[0] == "" and not isinstance(node, ast.Name)):
            continue
        if binding.ref[0] == "self" and not isinstance(node, ast.Attribute):
            continue
        up = parents.get(id(node))
        if isinstance(up, ast.Assign) and node in up.targets:
            if up.value is not binding.call:
                return None  # rebound to something else
            continue
        if isinstance(up, ast.Call) and isinstance(up.func, ast.Name) and up.func.id == "len" and up.args == [node]:
            methods.add(_LEN)
            continue
        if isinstance(up, ast.Call) and isinstance(up.func, ast.Name) and up.func.id in BY_FUNCTION \
                and node in up.args:
            methods.update(BY_FUNCTION[up.func.id].index_uses)  # a pipeline step: its declared uses, by text
            continue
        call = parents.get(id(up))
        if isinstance(up, ast.Attribute) and isinstance(call, ast.Call) and call.func is up:
            methods.add(up.attr)
            if up.attr == "search":
                first = call.args[0] if call.args else None
                by_text = by_text and first is not None and _textual(first, owner(node))
            continue
        return None
    return methods, by_text


def _targets(tree: ast.Module, binding: _Binding) -> list[str]:
    used = _uses(tree, binding)
    if used is None:
        return []
    methods, by_text = used
    out = []
    for cls in INDEXES:
        if cls == binding.cls or not methods <= _methods(cls):
            continue
        if not by_text and INDEXES[cls].text_only:
            continue
        out.append(cls)
    return out


def _new_call(code: str, tree: ast.Module, binding: _Binding, new: str) -> tuple[str, dict[str, str], set[str]]:
    """The constructor call for `new` (source text), knobs to add, and names the old call read."""
    old_params = [p.name for p in _params(binding.cls)]
    lines = code.splitlines(keepends=True)
    given: dict[str, str] = {}
    for k, arg in enumerate(binding.call.args):
        if k < len(old_params):
            given[old_params[k]] = segment(lines, arg)
    for kw in binding.call.keywords:
        if kw.arg:
            given[kw.arg] = segment(lines, kw.value)
    old_names = {n.id for n in ast.walk(binding.call) if isinstance(n, ast.Name)}
    knobs = {t.id for s in tree.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)}
    spec = INDEXES[new]
    parts, add = [], {}
    for p in _params(new):
        if p.name in given:
            parts.append(f"{p.name}={given[p.name]}" if parts or p.name != "embed" else given[p.name])
        elif p.name == "embed":
            parts.append("self.kit.embed")
        elif p.name in spec.params:
            name = spec.params[p.name].name
            if name not in knobs:
                add[name] = knob_text(spec.params[p.name])
            parts.append(f"{p.name}={name}")
    return f"{new}({', '.join(parts)})", add, old_names


def swap_index(code: str, rng: random.Random) -> tuple[str, str] | None:
    tree = ast.parse(code)
    options = [(b, t) for b in _bindings(tree) for t in _targets(tree, b)]
    if not options:
        return None
    binding, new = rng.choice(options)
    call_text, knobs, old_names = _new_call(code, tree, binding, new)
    lines = code.splitlines(keepends=True)
    start = segment(lines, binding.call)
    head = "".join(lines[:binding.call.lineno - 1])
    line = lines[binding.call.lineno - 1]
    col = len(line.encode("utf-8")[:binding.call.col_offset].decode("utf-8"))
    rest = "".join(lines[binding.call.lineno - 1:])
    assert rest[col:].startswith(start)
    out = head + rest[:col] + call_text + rest[col + len(start):]
    out = insert_knobs(out, knobs)
    out = add_import(out, f"from {INDEXES[new].module} import {new}")
    out = drop_unused_knobs(out, old_names)
    out = drop_unused_imports(out, {binding.cls})
    ast.parse(out)  # a broken splice fails here, before validation
    where = ".".join(p for p in binding.ref if p)
    return out, f"swap {where}'s {binding.cls} for a {new}"
