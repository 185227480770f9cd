"""Random sampling of the design space: a baseline operator that ignores its parents.

It takes a random seed program, applies a random number (0–3) of structural edits, and sets
every numeric knob uniformly at random within the range `tune` would search
(evolve/operators/knob_ranges.py: a catalogue knob's declared range, log-uniform where declared
so). Campaigns use it as the yardstick the guided operators must beat.
"""
from __future__ import annotations

from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knob_ranges import range_of
from evolve.operators.knobs import read_knobs, write_knobs
from evolve.operators.pipeline_edits import check_components, holds_only
from evolve.operators.structural_edits import EDITS


class RandomSample:
    name = "random"
    arity = 1

    def __init__(self, seeds: dict[str, str], max_edits: int = 3, components: list[str] | None = None) -> None:
        if not seeds:
            raise ValueError("random sampling needs at least one seed program")
        self.seeds = seeds
        self.max_edits = max_edits
        # the catalogue components a sample may hold (None: all); e.g. label-voting steps only
        # where the task's events carry labels (elsewhere they return their hits unchanged)
        self.components = check_components(components)

    def propose(self, ctx: OperatorContext) -> Proposal:
        rng = ctx.rng
        name = rng.choice(sorted(self.seeds))
        code = self.seeds[name]
        notes = [f"random sample from {name}"]
        for _ in range(rng.randint(0, self.max_edits)):
            edit, _w = EDITS[rng.choice(sorted(EDITS))]
            out = edit(code, rng)
            if out is not None and holds_only(out[0], self.components):
                code, note = out
                notes.append(note)
        ranges = {k.name: r for k in read_knobs(code) if (r := range_of(k)) is not None}
        if ranges:
            code = write_knobs(code, {name: r.sample(rng) for name, r in ranges.items()})
        problems = validate_source(code)
        if problems:
            raise OperatorError(f"random sample is invalid: {problems[0].render()}")
        return Proposal(code=code, note="; ".join(notes), operator=self.name, parents=(), meta={"seed": name})
