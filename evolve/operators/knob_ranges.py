"""The range a knob lives in, shared by every operator that sets knobs without an LLM.

A catalogue component's knob (design_space/catalogue.py, e.g. `MODEL_STEPS` 50–400) has its
declared type and range; any other numeric knob gets a range around the program's value:
integers ×/÷4 on a log scale (0 to 8 when off, never crossing zero), fractions in [0, 1],
other floats ×/÷4. `tune` searches these ranges, `random` samples them uniformly and
`structural` clamps its mutations into them, so no offline operator writes a catalogue knob
outside what its component declared.
"""
from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from typing import Any

from evolve.operators.knobs import Knob


@dataclass(frozen=True)
class Range:
    kind: str  # "bool" | "int" | "float"
    low: float = 0.0
    high: float = 1.0
    log: bool = False

    def clamp(self, value: Any) -> Any:
        if self.kind == "bool":
            return bool(value)
        if self.kind == "int":
            return int(min(max(int(round(value)), int(self.low)), int(self.high)))
        return float(min(max(float(value), float(self.low)), float(self.high)))

    def sample(self, rng: random.Random) -> Any:
        if self.kind == "bool":
            return rng.random() < 0.5
        if self.kind == "int" and not self.log:
            return rng.randint(int(self.low), int(self.high))  # every integer equally likely, the ends too
        if self.log:
            drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            drawn = rng.uniform(self.low, self.high)
        return self.clamp(drawn) if self.kind == "int" else round(self.clamp(drawn), 4)


@functools.lru_cache(maxsize=1)
def declared() -> dict[str, Any]:
    """Catalogue knobs by constant name: a component declares its knobs' type and range."""
    from design_space.catalogue import COMPONENTS

    out: dict[str, Any] = {}
    for comp in COMPONENTS.values():
        for spec in (*comp.knobs, *comp.params.values()):
            out[spec.name] = spec
    return out


def range_of(knob: Knob) -> Range | None:
    """The knob's range, or None for a knob no operator sets (a string)."""
    v = knob.value
    spec = declared().get(knob.name)
    if spec is not None and isinstance(v, (bool, int, float)):
        if spec.kind == "bool":
            return Range("bool")
        return Range(spec.kind, spec.low, spec.high, bool(spec.log and spec.low > 0))
    if isinstance(v, bool):
        return Range("bool")
    if isinstance(v, int):
        if v == 0:
            return Range("int", 0, 8)  # a switch or a count that is off: never negative
        if v < 0:
            return Range("int", v * 4, -1)
        return Range("int", max(1, v // 4), max(v * 4, 2), True)
    if isinstance(v, float):
        if 0.0 <= v <= 1.0:
            return Range("float", 0.0, 1.0)
        if v > 0:
            return Range("float", v / 4, v * 4, True)
        return Range("float", v * 4, v / 4)
    return None
