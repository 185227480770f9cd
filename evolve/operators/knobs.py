"""Knobs: module-level UPPER_CASE numeric/boolean/string constants, read and rewritten with libcst."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst


@dataclass(frozen=True)
class Knob:
    name: str
    value: Any


def _literal(node: cst.BaseExpression) -> Any:
    if isinstance(node, cst.Integer):
        return int(node.value, 0)
    if isinstance(node, cst.Float):
        return float(node.value)
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _literal(node.expression)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner
    raise ValueError("not a literal")


def _knob_assign(stmt: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    node = stmt.body[0]
    if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
        name, value = node.targets[0].target.value, node.value
    elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name) and node.value is not None:
        name, value = node.target.value, node.value
    else:
        return None
    if not (name.isupper() and not name.startswith("_")):
        return None
    return name, value


def read_knobs(source: str) -> list[Knob]:
    knobs = []
    for stmt in cst.parse_module(source).body:
        found = _knob_assign(stmt)
        if found is None:
            continue
        try:
            knobs.append(Knob(found[0], _literal(found[1])))
        except ValueError:
            continue  # a computed constant or a collection: not a tunable knob
    return knobs


def _to_node(value: Any) -> cst.BaseExpression:
    if isinstance(value, bool):
        return cst.Name("True" if value else "False")
    if isinstance(value, int):
        return cst.Integer(str(value)) if value >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-value)))
    if isinstance(value, float):
        text = repr(round(value, 6))
        return cst.Float(text) if value >= 0 else cst.UnaryOperation(cst.Minus(), cst.Float(text[1:]))
    if isinstance(value, str):
        return cst.SimpleString(repr(value))
    raise TypeError(f"cannot write knob value of type {type(value).__name__}")


class _Rewrite(cst.CSTTransformer):
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.done: set[str] = set()

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        body = []
        for stmt in updated.body:
            found = _knob_assign(stmt)
            if found and found[0] in self.values:
                node = stmt.body[0]
                body.append(stmt.with_changes(body=[node.with_changes(value=_to_node(self.values[found[0]]))]))
                self.done.add(found[0])
            else:
                body.append(stmt)
        return updated.with_changes(body=body)


def write_knobs(source: str, values: dict[str, Any]) -> str:
    """Return `source` with the given module-level knobs set; every name must exist."""
    rewrite = _Rewrite(values)
    out = cst.parse_module(source).visit(rewrite)
    missing = set(values) - rewrite.done
    if missing:
        raise KeyError(f"no knob named {sorted(missing)[0]!r}")
    return out.code
