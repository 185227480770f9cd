"""graft: component-level crossover of two pipeline programs, no LLM.

The child is the first parent with one slot — its index, or its component sequence for
encode text, query, hits or manage — taken from the second parent, with the second parent's
knob values for what it brings. Only slots where the parents differ are candidates, so the
child always differs from the first parent.
"""
from __future__ import annotations

from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.pipeline_edits import graft, graftable, present


class ComponentCrossover:
    name = "graft"
    arity = 2

    def propose(self, ctx: OperatorContext) -> Proposal:
        a, b = ctx.parents[0], ctx.parents[1]
        options = graftable(a.code, b.code)
        if not options:
            raise OperatorError(f"{a.id} and {b.id} share no differing pipeline slot to graft")
        slot = ctx.rng.choice(options)
        code = graft(a.code, b.code, slot)
        problems = validate_source(code)
        if problems:
            raise OperatorError(f"graft of {slot} made an invalid program: {problems[0].render()}")
        got = present(code).get(slot, [])
        note = f"graft {b.id}'s {slot} ({' → '.join(got) or 'none'}) into {a.id}"
        return Proposal(code=code, note=note, operator=self.name, parents=(a.id, b.id), meta={"slot": slot})
