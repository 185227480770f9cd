"""Inline the `design_space` code a program uses, so the program runs without memarch installed.

A candidate imports contract classes and building blocks (`from design_space.components.store.
bm25_index import BM25Index`). `inline_program` follows those imports through the module graph
(only `design_space.*`), keeps just the top-level definitions that are reachable from what the
program uses (tree shaking), renames definitions whose names would clash in one namespace, and
emits a single module: the program's docstring, then the inlined definitions in dependency
order, then the program itself with its `design_space` imports removed. Third-party imports
(numpy, torch, bm25s, ...) stay as they are.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, ScopeProvider

PACKAGE = "design_space"
PROGRAM = "<program>"


class InlineError(ValueError):
    """The program imports `design_space` in a way that cannot be inlined."""


def _dotted(node: cst.BaseExpression | None) -> str:
    return cst.helpers.get_full_name_for_node(node) if node is not None else ""


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _absolute(module: str, node: cst.ImportFrom) -> str:
    name = _dotted(node.module)
    if not node.relative:
        return name
    base = module.split(".")[: len(module.split(".")) - len(node.relative)]
    return ".".join(base + ([name] if name else []))


def _bound(stmt: cst.CSTNode) -> set[str]:
    """Names a top-level statement binds in the module namespace."""
    out: set[str] = set()
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return {stmt.name.value}
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                targets = [small.target]
            elif isinstance(small, cst.Import):
                out |= {_dotted(a.asname.name) if a.asname else _dotted(a.name).split(".")[0] for a in small.names}
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                out |= {_dotted(a.asname.name) if a.asname else _dotted(a.name) for a in small.names}
            for t in targets:
                out |= {n.value for n in _names(t)}
        return out
    for body in ("body", "orelse", "handlers", "finalbody"):  # if / try / with / for at module level
        part = getattr(stmt, body, None)
        parts = part if isinstance(part, (list, tuple)) else [part]
        for p in parts:
            inner = getattr(p, "body", None)
            for s in (inner if isinstance(inner, (list, tuple)) else getattr(inner, "body", []) or []):
                out |= _bound(s)
    return out


def _names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.append(n)

    node.visit(V())
    return found


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _is_future(stmt: cst.CSTNode) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.ImportFrom)
            and _dotted(stmt.body[0].module) == "__future__")


@dataclass
class _Module:
    name: str
    path: str
    module: cst.Module
    stmts: list[cst.CSTNode] = field(default_factory=list)
    binders: dict[str, list[int]] = field(default_factory=dict)  # name -> the statements binding it
    ours: dict[str, tuple[str, str]] = field(default_factory=dict)  # alias -> (design_space module, name)
    keep: set[int] = field(default_factory=set)
    futures: set[str] = field(default_factory=set)
    used: list[set[str]] = field(default_factory=list)  # names each statement mentions


_PARSED: dict[tuple[str, float], _Module] = {}  # design_space modules parse once per process and mtime


def _load(name: str, source: str | None = None) -> _Module:
    if source is not None:
        return _parse(name, name, source)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise InlineError(f"cannot find the source of {name}")
    key = (spec.origin, Path(spec.origin).stat().st_mtime)
    if key not in _PARSED:
        _PARSED[key] = _parse(name, spec.origin, Path(spec.origin).read_text(encoding="utf-8"))
    cached = _PARSED[key]
    return _Module(cached.name, cached.path, cached.module, cached.stmts, cached.binders, cached.ours,
                   set(), cached.futures, cached.used)


def _parse(name: str, path: str, source: str) -> _Module:
    module = cst.parse_module(source)
    mod = _Module(name, path, module, list(module.body))
    mod.used = [{x.value for x in _names(stmt)} for stmt in mod.stmts]
    for i, stmt in enumerate(mod.stmts):
        if _is_future(stmt):
            mod.futures |= {_dotted(a.name) for a in stmt.body[0].names}
            continue
        for n in _bound(stmt):
            mod.binders.setdefault(n, []).append(i)
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Import) and any(_ours(_dotted(a.name)) for a in small.names):
                    raise InlineError(f"{name}: `import {PACKAGE}...` is not supported; use `from ... import`")
                if isinstance(small, cst.ImportFrom) and _ours(_absolute(name, small)):
                    if isinstance(small.names, cst.ImportStar):
                        raise InlineError(f"{name}: `from {_absolute(name, small)} import *` cannot be inlined")
                    for a in small.names:
                        local = _dotted(a.asname.name) if a.asname else _dotted(a.name)
                        mod.ours[local] = (_absolute(name, small), _dotted(a.name))
    return mod


class _Inliner:
    def __init__(self, program: str) -> None:
        self.modules: dict[str, _Module] = {PROGRAM: _load(PROGRAM, program)}
        self.deps: dict[str, set[str]] = {}

    def module(self, name: str) -> _Module:
        if name not in self.modules:
            self.modules[name] = _load(name)
        return self.modules[name]

    def resolve(self, module: str, name: str, seen: tuple = ()) -> tuple[str, str]:
        """Where `name`, as seen from `module`, is really defined."""
        if (module, name) in seen:
            raise InlineError(f"import cycle through {module}.{name}")
        mod = self.module(module)
        if name in mod.ours:
            return self.resolve(*mod.ours[name], seen=seen + ((module, name),))
        if name not in mod.binders:
            try:
                submodule = importlib.util.find_spec(f"{module}.{name}") is not None
            except ModuleNotFoundError:  # `module` is not a package
                submodule = False
            if submodule:
                raise InlineError(f"{module}.{name} is a module; import the names it defines instead")
            raise InlineError(f"{module} defines no {name!r}")
        return module, name

    def need(self, module: str, name: str) -> None:
        work = [(module, name)]
        done: set[tuple[str, str]] = set()
        while work:
            key = work.pop()
            if key in done:
                continue
            done.add(key)
            mod = self.module(key[0])
            stmts = mod.binders[key[1]] if key[1] else [i for i, s in enumerate(mod.stmts) if not _bound(s)
                                                            and not _is_docstring(s) and not _is_future(s)]
            for i in stmts:
                if i in mod.keep:
                    continue
                mod.keep.add(i)
                for n in mod.used[i]:
                    if n in mod.ours:
                        target = self.resolve(key[0], n)
                        self.deps.setdefault(key[0], set()).add(target[0])
                        work.append(target)
                    elif n in mod.binders:
                        work.append((key[0], n))
            if key[1] and (key[0], "") not in done:
                work.append((key[0], ""))  # a module's side-effect statements come with any of its names


def _order(deps: dict[str, set[str]], start: str) -> list[str]:
    out: list[str] = []
    state: dict[str, int] = {}

    def visit(m: str) -> None:
        if state.get(m) == 2:
            return
        if state.get(m) == 1:
            raise InlineError(f"circular imports between design_space modules at {m}")
        state[m] = 1
        for d in sorted(deps.get(m, ())):
            visit(d)
        state[m] = 2
        out.append(m)

    visit(start)
    return out


class _Rename(cst.CSTTransformer):
    """Rename global names of one module and drop its design_space imports."""

    def __init__(self, wrapper: MetadataWrapper | None, final: dict[str, str]) -> None:
        self.final = final
        self.names: dict[int, str] = {}
        renames = {old: new for old, new in final.items() if old != new}
        scope = wrapper.resolve(ScopeProvider)[wrapper.module] if wrapper is not None else None
        for old, new in renames.items():
            for a in scope.assignments[old] if scope is not None else ():
                self.names.update({id(r.node): new for r in a.references if isinstance(r.node, cst.Name)})
                if isinstance(a.node, cst.Name):
                    self.names[id(a.node)] = new
        self.depth = 0

    def leave_Name(self, orig: cst.Name, new: cst.Name) -> cst.Name:
        return new.with_changes(value=self.names[id(orig)]) if id(orig) in self.names else new

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, orig: cst.FunctionDef, new: cst.FunctionDef) -> cst.FunctionDef:
        self.depth -= 1
        return self._def(new)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, orig: cst.ClassDef, new: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        return self._def(new)

    def _def(self, node):
        if self.depth == 0 and node.name.value in self.final:
            return node.with_changes(name=node.name.with_changes(value=self.final[node.name.value]))
        return node

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if self.depth and _dotted(node.module).startswith(PACKAGE) and _ours(_dotted(node.module)):
            raise InlineError(f"a function-level `from {_dotted(node.module)} import` cannot be inlined; "
                              "import at module level")

    def leave_ImportAlias(self, orig: cst.ImportAlias, new: cst.ImportAlias) -> cst.ImportAlias:
        local = _dotted(orig.asname.name) if orig.asname else _dotted(orig.name).split(".")[0]
        if self.depth == 0 and self.final.get(local, local) != local:
            return new.with_changes(asname=cst.AsName(name=cst.Name(self.final[local])))
        return new


class Inlined:
    """The result: the module text and which design_space modules went into it."""

    def __init__(self, code: str, modules: list[str], names: dict[tuple[str, str], str]) -> None:
        self.code = code
        self.modules = modules
        self.names = names  # (module, name) asked for in `extra` -> its name in the output


def inline_program(program: str, extra: list[tuple[str, str]] = ()) -> Inlined:
    """One self-contained module: `program` plus the design_space definitions it (and `extra`) use."""
    inl = _Inliner(program)
    prog = inl.modules[PROGRAM]
    prog.keep = {i for i, s in enumerate(prog.stmts) if not _is_future(s)}
    for i in list(prog.keep):
        for n in prog.used[i] & set(prog.ours):
            target = inl.resolve(PROGRAM, n)
            inl.deps.setdefault(PROGRAM, set()).add(target[0])
            inl.need(*target)
    extra_targets = {}
    for module, name in extra:
        target = extra_targets[(module, name)] = inl.resolve(module, name)
        inl.deps.setdefault(PROGRAM, set()).add(target[0])
        inl.need(*target)
    order = _order(inl.deps, PROGRAM)
    # Final names: the program keeps its own; an inlined definition that would clash gets a suffix.
    taken: dict[str, tuple] = {}
    finals: dict[str, dict[str, str]] = {}
    for m in [PROGRAM] + [o for o in order if o != PROGRAM]:
        mod = inl.modules[m]
        finals[m] = {}
        for name, idxs in mod.binders.items():
            if not mod.keep.intersection(idxs) or name in mod.ours:
                continue
            ident = _identity(mod, name)
            new = name
            k = 1
            while new in taken and taken[new] != ident:
                new = f"{name}_{m.rsplit('.', 1)[-1]}" + (str(k) if k > 1 else "")
                k += 1
            taken[new] = ident
            finals[m][name] = new
    for m in order:
        mod = inl.modules[m]
        for alias, (src, name) in mod.ours.items():
            d_mod, d_name = inl.resolve(src, name)
            if d_mod in finals:  # else the alias is imported but never used
                finals[m][alias] = finals[d_mod].get(d_name, d_name)
    futures = sorted(set().union(*(inl.modules[m].futures for m in order)))
    parts: list[str] = []
    body = prog.module
    if prog.stmts and _is_docstring(prog.stmts[0]):
        parts.append(body.code_for_node(prog.stmts[0]).strip())
        prog.keep.discard(0)
    if futures:
        parts.append(f"from __future__ import {', '.join(futures)}")
    seen_imports: set[str] = set()
    for m in order:
        mod = inl.modules[m]
        # scope analysis only where a name changes: it is the slow part
        wrapper = MetadataWrapper(mod.module) if any(o != n for o, n in finals[m].items()) else None
        renamed = (wrapper.module if wrapper else mod.module).visit(_Rename(wrapper, finals[m]))
        stmts = [s for i, s in enumerate(renamed.body) if i in mod.keep]
        stmts = [s for s in (_drop_ours(m, s) for s in stmts) if s is not None]
        text = []
        for s in stmts:
            code = renamed.code_for_node(s)
            if _is_plain_import(s):  # the same third-party import once is enough
                if code.strip() in seen_imports:
                    continue
                seen_imports.add(code.strip())
            text.append(code)
        if not text:
            continue
        header = ("# ---- the program ----" if m == PROGRAM else
                  f"# ---- inlined from {m.replace('.', '/')}.py ----")
        parts.append(header + "\n" + "".join(text).strip("\n"))
    names = {key: finals[t[0]].get(t[1], t[1]) for key, t in extra_targets.items()}
    return Inlined("\n\n\n".join(parts) + "\n", [m for m in order if m != PROGRAM], names)


def _identity(mod: _Module, name: str) -> tuple:
    """Two bindings with the same identity may share a name (e.g. `import numpy as np` twice)."""
    stmt = mod.stmts[mod.binders[name][0]]
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for a in small.names:
                    if (_dotted(a.asname.name) if a.asname else _dotted(a.name).split(".")[0]) == name:
                        return ("import", _dotted(a.name) if a.asname else _dotted(a.name).split(".")[0])
            if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                for a in small.names:
                    if (_dotted(a.asname.name) if a.asname else _dotted(a.name)) == name:
                        return ("from", _absolute(mod.name, small), _dotted(a.name))
    return ("def", mod.name, name)


def _is_plain_import(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom))
                                                             for s in stmt.body)


def _drop_ours(module: str, stmt: cst.CSTNode) -> cst.CSTNode | None:
    """Remove top-level `from design_space... import` lines; their names now refer to inlined code."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return stmt
    body = [s for s in stmt.body if not (isinstance(s, cst.ImportFrom) and _ours(_absolute(module, s)))]
    if not body:
        return None
    return stmt.with_changes(body=body)
