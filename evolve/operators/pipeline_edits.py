"""Component-level edits of pipeline programs: insert, replace or remove a catalogue component in
any slot of any stage, and graft one slot of another program (crossover without an LLM).

A program is a pipeline when a class keeps `self.turns` and `self.index` (see
design_space/catalogue.py). Its slots are found by Python's parser, not by text patterns:
- `text`  in `encode`, after the first assignment of `text`, before the return;
- `query` in `retrieve`, after the first assignment of `text`, before `hits = self.index.search(...)`;
- `hits`  in `retrieve`, after that search, before the return;
- `turns` in `manage`, before its final return.
Each component line is the catalogue's call line; its import and knob constants come and go
with it, and every other line of the program stays as it was.
"""
from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field

from design_space.catalogue import BY_FUNCTION, COMPONENTS, Component, knob_text, slot_components
from evolve.operators.source_edits import add_import, drop_unused_imports, drop_unused_knobs, insert_knobs, \
    module_constants, segment, set_knob_values

_METHOD = {"text": "encode", "query": "retrieve", "hits": "retrieve", "turns": "manage"}


@dataclass
class Slot:
    name: str
    indent: str
    end: int  # 1-based line before which a component is appended
    calls: list[tuple[int, int, Component]] = field(default_factory=list)  # (first line, last line, component)


def _called(stmt: ast.stmt) -> str | None:
    value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id
    return None


def _assigns(stmt: ast.stmt, name: str) -> bool:
    return isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)


def _is_search(stmt: ast.stmt) -> bool:
    if not _assigns(stmt, "hits") or not isinstance(stmt.value, ast.Call):
        return False
    f = stmt.value.func
    return isinstance(f, ast.Attribute) and f.attr == "search" and isinstance(f.value, ast.Attribute) \
        and f.value.attr == "index" and isinstance(f.value.value, ast.Name) and f.value.value.id == "self"


def pipeline_class(tree: ast.Module) -> ast.ClassDef | None:
    """The class keeping `self.turns` and `self.index` in its __init__, if any."""
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if init is None:
            continue
        kept = {t.attr for s in ast.walk(init) if isinstance(s, ast.Assign) for t in s.targets
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"}
        if {"turns", "index"} <= kept:
            return cls
    return None


def index_line(code: str, tree: ast.Module | None = None) -> tuple[int, str] | None:
    """(line number, class name) of `self.index = Cls(...)` in a pipeline class."""
    cls = pipeline_class(tree if tree is not None else ast.parse(code))
    if cls is None:
        return None
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
                and any(isinstance(t, ast.Attribute) and t.attr == "index" for t in node.targets) \
                and node.lineno == node.end_lineno:
            return node.lineno, node.value.func.id
    return None


def slots(code: str, tree: ast.Module | None = None) -> dict[str, Slot]:
    """The component slots of a pipeline program (`tree`: the code's own, when the caller has it)."""
    cls = pipeline_class(tree if tree is not None else ast.parse(code))
    if cls is None:
        return {}
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    out: dict[str, Slot] = {}
    for name, method in _METHOD.items():
        fn = methods.get(method)
        if fn is None:
            continue
        body = fn.body
        if name in ("text", "query"):
            start = next((k for k, s in enumerate(body) if _assigns(s, "text")), None)
            if start is None:
                continue
            stop = next((k for k in range(start + 1, len(body))
                         if (_is_search(body[k]) if name == "query" else isinstance(body[k], ast.Return))), None)
        elif name == "hits":
            start = next((k for k, s in enumerate(body) if _is_search(s)), None)
            if start is None:
                continue
            stop = next((k for k in range(start + 1, len(body)) if isinstance(body[k], ast.Return)), None)
        else:
            start = 0 if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                else -1
            stop = len(body) - 1 if isinstance(body[-1], ast.Return) else None
            if stop is None or stop <= start:
                continue
        if stop is None:
            continue
        slot = Slot(name, " " * body[stop].col_offset, body[stop].lineno)
        for stmt in body[start + 1:stop]:
            comp = BY_FUNCTION.get(_called(stmt) or "")
            if comp is not None and comp.slot == name:
                slot.calls.append((stmt.lineno, stmt.end_lineno or stmt.lineno, comp))
        out[name] = slot
    return out


def present(code: str) -> dict[str, list[str]]:
    """Components per slot (in order), plus the index: the program's structure."""
    tree = ast.parse(code)  # once for both
    out = {name: [c.name for _a, _b, c in slot.calls] for name, slot in slots(code, tree).items()}
    found = index_line(code, tree)
    if found is not None:
        out["index"] = [c.name for c in COMPONENTS.values() if c.slot == "index" and c.function == found[1]]
    return out


def holds_only(code: str, allowed: set[str] | None) -> bool:
    """True when every catalogue component the program holds is in `allowed` (None: any)."""
    return allowed is None or {c for names in present(code).values() for c in names} <= allowed


def check_components(names: list[str] | None) -> set[str] | None:
    """An operator's `components` allow-list as a set (None: the whole catalogue); unknown names are refused."""
    strange = sorted(set(names or ()) - set(COMPONENTS))
    if strange:
        raise ValueError(f"unknown component {strange[0]!r} (known: {', '.join(sorted(COMPONENTS))})")
    return set(names) if names is not None else None


def _with_component(code: str, comp: Component) -> str:
    code = add_import(code, comp.import_line())
    return insert_knobs(code, {k.name: knob_text(k) for k in comp.knobs})


def _tidy(code: str, comp: Component) -> str:
    code = drop_unused_knobs(code, {k.name for k in comp.knobs})
    return drop_unused_imports(code, {comp.function})


def insert_at(code: str, slot: str, comp: Component, position: int) -> str:
    s = slots(code)[slot]
    at = s.calls[position][0] if position < len(s.calls) else s.end
    lines = code.splitlines(keepends=True)
    lines.insert(at - 1, s.indent + comp.call_line() + "\n")
    return _with_component("".join(lines), comp)


def remove_at(code: str, slot: str, position: int) -> str:
    first, last, comp = slots(code)[slot].calls[position]
    lines = code.splitlines(keepends=True)
    del lines[first - 1:last]
    return _tidy("".join(lines), comp)


def replace_at(code: str, slot: str, position: int, comp: Component) -> str:
    first, last, old = slots(code)[slot].calls[position]
    lines = code.splitlines(keepends=True)
    lines[first - 1:last] = [slots(code)[slot].indent + comp.call_line() + "\n"]
    return _tidy(_with_component("".join(lines), comp), old)


def _absent(code: str, slot: Slot) -> list[Component]:
    have = {c.name for _a, _b, c in slot.calls}
    return [c for c in slot_components(slot.name) if c.name not in have]


def insert_component(code: str, rng: random.Random) -> tuple[str, str] | None:
    options = [(s, c) for s in slots(code).values() for c in _absent(code, s)]
    if not options:
        return None
    slot, comp = rng.choice(options)
    position = rng.randint(0, len(slot.calls))
    return insert_at(code, slot.name, comp, position), f"insert {comp.name} ({comp.stage}, {comp.interface}): {comp.doc}"


def remove_component(code: str, rng: random.Random) -> tuple[str, str] | None:
    options = [(s, k) for s in slots(code).values() for k in range(len(s.calls))]
    if not options:
        return None
    slot, k = rng.choice(options)
    comp = slot.calls[k][2]
    return remove_at(code, slot.name, k), f"remove {comp.name} from {comp.stage}"


def replace_component(code: str, rng: random.Random) -> tuple[str, str] | None:
    options = [(s, k, c) for s in slots(code).values() for k in range(len(s.calls)) for c in _absent(code, s)]
    if not options:
        return None
    slot, k, comp = rng.choice(options)
    old = slot.calls[k][2]
    return replace_at(code, slot.name, k, comp), f"replace {old.name} with {comp.name} in {comp.stage}"


def _constants_read(code: str, first: int, last: int) -> set[str]:
    tree = ast.parse(code)
    consts = module_constants(code)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in consts
            and first <= n.lineno <= last and isinstance(n.ctx, ast.Load)}


def _literal_of(code: str, names: set[str]) -> dict[str, str]:
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id in names:
            out[stmt.targets[0].id] = segment(lines, stmt.value)
    return out


def graft(a: str, b: str, slot: str) -> str:
    """A with its `slot` (a component sequence, or the index) taken from B, with B's knob values."""
    lines_b = b.splitlines(keepends=True)
    if slot == "index":
        (at_a, cls_a), (at_b, cls_b) = index_line(a), index_line(b)
        lines = a.splitlines(keepends=True)
        old_line = lines[at_a - 1]
        lines[at_a - 1] = lines_b[at_b - 1]
        moved = [(at_b, at_b)]
        comps_old = [c for c in COMPONENTS.values() if c.function == cls_a]
        comps_new = [c for c in COMPONENTS.values() if c.function == cls_b]
        out = "".join(lines)
        old_names = {n.id for n in ast.walk(ast.parse(old_line.strip())) if isinstance(n, ast.Name)}
    else:
        sa, sb = slots(a)[slot], slots(b)[slot]
        lines = a.splitlines(keepends=True)
        new_block = [sa.indent + "".join(lines_b[f - 1:l]).strip() + "\n" for f, l, _c in sb.calls]
        moved = [(f, l) for f, l, _c in sb.calls]
        comps_old = [c for _f, _l, c in sa.calls]
        comps_new = [c for _f, _l, c in sb.calls]
        old_names = {k.name for c in comps_old for k in c.knobs}
        for f, l, _c in reversed(sa.calls):
            del lines[f - 1:l]
        at = (sa.calls[0][0] if sa.calls else sa.end) - 1
        lines[at:at] = new_block
        out = "".join(lines)
    wanted: set[str] = set()
    for f, l in moved:
        wanted |= _constants_read(b, f, l)
    values = _literal_of(b, wanted)
    have = module_constants(out)
    out = set_knob_values(out, {n: v for n, v in values.items() if n in have})
    out = insert_knobs(out, {n: v for n, v in values.items() if n not in have})
    for comp in comps_new:
        out = add_import(out, comp.import_line())
    out = drop_unused_knobs(out, old_names)
    return drop_unused_imports(out, {c.function for c in comps_old if c not in comps_new})


def graftable(a: str, b: str) -> list[str]:
    """Slots both programs have where B's content differs from A's."""
    pa, pb = present(a), present(b)
    return [s for s in pa if s in pb and pa[s] != pb[s]]
