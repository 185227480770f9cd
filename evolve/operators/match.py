"""match: make a program that beats a seed fit that seed's cost.

The question a user asks of a search is "what beats my baseline at no more cost?". A front
often answers it just too late: its strongest programs spend a few tokens more than a seed
(the knob that sets tokens, `TOP_K`, moves them a whole item at a time), and the best program
at or below the seed's tokens is much weaker. `match` picks such a pair — a seed, and a front
program that spends more tokens than it, at most a third more, and beats everything the front
holds at the seed's tokens (the larger that lead, the likelier) — and ends the program's `hits`
slot with the catalogue's `share` step (or lowers the one it has; one that caps the hits before
neighbours are added is scaled in place: trim.share_for), sized so the child spends a little less
than the seed: between 92 % and 99 % of its tokens. A child that still lands above
the seed is itself such a program, so a later draw trims it again.

Needs a `tokens` objective to minimise and a quality objective to maximise; the parent must be
a pipeline program (design_space/catalogue.py) with a `hits` slot. The seeds are the campaign's
own, measured like every candidate on the search data.
"""
from __future__ import annotations

from typing import Any

from design_space.validate import validate_source
from evolve.operators.base import CandidateView, OperatorContext, OperatorError, Proposal
from evolve.operators.pipeline_edits import slots
from evolve.operators.trim import KNOB, share_for

REACH = 4 / 3  # a parent spends at most a third more tokens than the seed it is fitted to
BELOW = (0.92, 0.99)  # the child aims at this share of the seed's tokens


def pairs(seeds: list[tuple[str, float, float]], programs: list[tuple[str, float, float]]
          ) -> list[tuple[str, str, float, float, float]]:
    """(program id, seed id, program tokens, seed tokens, lead) for each program that spends more
    than a seed, at most REACH times as much, and beats the seed and every program at no more
    tokens than the seed; all given as (id, quality, tokens); lead = its quality minus the best
    of those."""
    out = []
    for sid, sq, st in seeds:
        bar = max([sq, *(q for _c, q, t in programs if t <= st)])
        for cid, q, t in programs:
            if st < t <= REACH * st and q > bar:
                out.append((cid, sid, t, st, q - bar))
    return out


def _points(views: list[CandidateView], quality: str) -> list[tuple[str, float, float]]:
    return [(v.id, v.metrics[quality], v.metrics["tokens"]) for v in views
            if quality in v.metrics and "tokens" in v.metrics]


class Match:
    name = "match"
    arity = 1
    reads_front = True

    def __init__(self, objectives: list[tuple[str, str]] | None = None, token_budget: float = 0.0) -> None:
        objectives = objectives or []
        if ("tokens", "min") not in objectives:
            raise ValueError("match needs the objective {metric: tokens, direction: min}")
        quality = [m for m, d in objectives if d == "max"]
        if not quality:
            raise ValueError("match needs an objective to maximise beside tokens")
        if token_budget <= 0:
            raise ValueError("match needs the task's token budget per query (budget_tokens)")
        self.quality = quality[0]
        self.budget = float(token_budget)

    def propose(self, ctx: OperatorContext) -> Proposal:
        views = {v.id: v for v in [*ctx.parents, *ctx.front]}
        seeds = {v.id: v for v in ctx.references}
        found = pairs(_points(list(seeds.values()), self.quality),
                      _points(list(views.values()), self.quality))
        while found:  # draw by lead; parse only the drawn program (a front can be long)
            k = ctx.rng.choices(range(len(found)), weights=[max(f[4], 1e-12) for f in found])[0]
            cid, sid, tokens, seed_tokens, lead = found.pop(k)
            if "hits" in slots(views[cid].code):
                break
        else:
            raise OperatorError("no pipeline program with a hits slot beats a seed at a little more than its tokens")
        target = seed_tokens * ctx.rng.uniform(*BELOW)
        code, old, new = share_for(views[cid].code, tokens, target, self.budget)
        problems = validate_source(code)
        if problems:
            raise OperatorError(f"match made an invalid program: {problems[0].render()}")
        change = f"{KNOB} {old:g} -> {new:g}" if old is not None else f"insert share ({KNOB} {new:g})"
        seed = seeds[sid].operator.removeprefix("seed:") or sid
        note = (f"match {cid} ({tokens:.1f} tokens, {lead:+.3f} {self.quality} over the best at the seed's "
                f"tokens) to seed {seed}'s {seed_tokens:.1f}: {change}, toward {target:.1f}")
        meta: dict[str, Any] = {"target_tokens": round(target, 2), "share": new, "seed": sid}
        return Proposal(code=code, note=note, operator=self.name, parents=(cid,), meta=meta)
