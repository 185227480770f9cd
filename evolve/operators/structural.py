"""Structural edits without an LLM: mutate knobs, or apply an edit from the catalogue
in `structural_edits` (swap a component, change granularity, add or remove a step).

Integers move by a multiplicative step (never below 1 when they start positive), floats by
a log-normal factor (probabilities stay in [0, 1]), booleans flip; a catalogue component's knob
is then clamped into its declared range (evolve/operators/knob_ranges.py), so a mutation at the
edge of the range leaves it there or moves it inward. String knobs are left
alone: their meaning is the program's own.
"""
from __future__ import annotations

import math
import random
from typing import Any

from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knob_ranges import declared, range_of
from evolve.operators.knobs import Knob, read_knobs, write_knobs
from evolve.operators.pipeline_edits import check_components, holds_only
from evolve.operators.structural_edits import EDITS


def _mutate(knob: Knob, rng: random.Random) -> Any:
    v = knob.value
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        if v == 0:
            return 1
        step = rng.choice([0.5, 0.67, 0.8, 1.25, 1.5, 2.0])
        new = int(round(v * step))
        if new == v:
            new = v + (1 if step > 1 else -1)
        return max(1, new) if v > 0 else new
    if isinstance(v, float):
        if v == 0.0:
            return round(rng.uniform(0.0, 0.2), 4)
        new = v * math.exp(rng.gauss(0.0, 0.35))
        if 0.0 < v <= 1.0:
            new = min(1.0, new)
        return round(new, 4)
    return v


def _bounded(knob: Knob, value: Any) -> Any:
    """A catalogue knob stays inside the range its component declares; other knobs are unbounded."""
    if knob.name not in declared() or isinstance(value, str):
        return value
    r = range_of(knob)
    return value if r is None else r.clamp(value)


class StructuralEdit:
    name = "structural"
    arity = 1

    def __init__(self, max_knobs: int = 2, knob_weight: float = 3.0, edits: list[str] | None = None,
                 components: list[str] | None = None, frozen: frozenset[str] | set[str] = frozenset()) -> None:
        unknown = sorted(set(edits or ()) - set(EDITS))
        if unknown:
            raise ValueError(f"unknown structural edit {unknown[0]!r} (known: {', '.join(sorted(EDITS))})")
        # the catalogue components a child may hold (None: all); e.g. an experience task has no use
        # for query rewriting or dated turns, whose new texts only miss the embedding cache
        self.components = check_components(components)
        self.frozen = frozenset(frozen)  # knobs left as the parent has them (e.g. turn annotations)
        self.max_knobs = max_knobs
        self.knob_weight = knob_weight
        self.edits = {n: EDITS[n] for n in (edits if edits is not None else EDITS)}

    def propose(self, ctx: OperatorContext) -> Proposal:
        parent = ctx.parents[0]
        rng = ctx.rng
        names = ["knobs"] + list(self.edits)
        weights = [self.knob_weight] + [w for _f, w in self.edits.values()]
        while names:
            pick = rng.choices(range(len(names)), weights=weights)[0]
            name = names.pop(pick)
            weights.pop(pick)
            if name == "knobs":
                try:
                    return self._knobs(ctx)
                except OperatorError:
                    continue
            out = self._edit(name, parent.code, rng)
            if out is None:
                continue
            code, note = out
            problems = validate_source(code)
            if problems:
                raise OperatorError(f"structural edit {name} made an invalid program: {problems[0].render()}")
            return Proposal(code=code, note=note, operator=self.name, parents=(parent.id,), meta={"edit": name})
        raise OperatorError(f"no structural edit applies to {parent.id}")

    def _edit(self, name: str, code: str, rng: random.Random) -> tuple[str, str] | None:
        """The edit's child, drawing again (a few times) while it holds a component outside the allow-list."""
        for _ in range(12 if self.components is not None else 1):
            out = self.edits[name][0](code, rng)
            if out is None or holds_only(out[0], self.components):
                return out
        return None

    def _knobs(self, ctx: OperatorContext) -> Proposal:
        parent = ctx.parents[0]
        knobs = read_knobs(parent.code)
        tunable = [k for k in knobs if not isinstance(k.value, str) and k.name not in self.frozen]
        if not tunable:
            raise OperatorError(f"{parent.id} has no knobs to mutate")
        rng = ctx.rng
        picked = rng.sample(tunable, min(len(tunable), rng.randint(1, self.max_knobs)))
        changes = {k.name: _bounded(k, _mutate(k, rng)) for k in picked}
        changes = {n: v for n, v in changes.items() if v != next(k.value for k in picked if k.name == n)}
        if not changes:
            raise OperatorError(f"mutation left {parent.id} unchanged")
        code = write_knobs(parent.code, changes)  # only literals change: the child is as valid as its parent
        old = {k.name: k.value for k in picked}
        note = ", ".join(f"{n} {old[n]!r} → {v!r}" for n, v in sorted(changes.items()))
        return Proposal(code=code, note=note, operator=self.name, parents=(parent.id,), meta={"edit": "knobs"})
