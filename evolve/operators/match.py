"""match: make a program that beats a seed fit that seed's cost, from above or from below.

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

From below (a lift): when the best program at no more tokens than a seed beats the seed but
spends clearly less than it (under 97 % of its tokens, at least three quarters of them), the
room left is recall given away at the seed's cost. `match` then raises what caps it — a `share`
that binds, else `TOP_K` by one (capped again with `share` when one more item would overshoot)
— so the child spends between what the parent spends (or 92 % of the seed's tokens, if more) and
99 % of the seed's. Lifts and fits are drawn together by their lead (a lift's: the quality the
room may add at the front's slope just below the program); a program is lifted toward a seed once
per run. `lift: false` turns lifting off.

Needs a `tokens` objective to minimise and a quality objective to maximise; the parent must be
a pipeline program (design_space/catalogue.py) with a `hits` slot. The seeds are the campaign's
own, measured like every candidate on the search data.
"""
from __future__ import annotations

from typing import Any

from design_space.validate import validate_source
from evolve.operators.base import CandidateView, OperatorContext, OperatorError, Proposal
from evolve.operators.pipeline_edits import slots
from evolve.operators.knobs import read_knobs, write_knobs
from evolve.operators.trim import HIGH, KNOB, share_for

REACH = 4 / 3  # a parent spends at most a third more tokens than the seed it is fitted to
BELOW = (0.92, 0.99)  # the child aims at this share of the seed's tokens
ROOM = 0.97  # a program is lifted when it spends less than this share of the seed's tokens
TOP_K, TOP_K_MAX = "TOP_K", 40


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


def lifts(seeds: list[tuple[str, float, float]], programs: list[tuple[str, float, float]]
          ) -> list[tuple[str, str, float, float, float]]:
    """(program id, seed id, program tokens, seed tokens, lead) for the best program at no more
    tokens than a seed (on a tie the one with fewer tokens, then the first id: a lifted child that
    changed nothing does not displace its parent) when it beats the seed and spends between
    1 / REACH and ROOM of the seed's tokens. Its lead is what the room up to BELOW[1] of the seed's
    tokens may add at the front's slope just below it — quality per token from the best cheaper
    program (or from nothing: 0 at 0 tokens) — comparable with a fit's lead, however weak the seed."""
    out = []
    for sid, sq, st in seeds:
        under = [(-q, t, cid) for cid, q, t in programs if t <= st]
        if not under:
            continue
        neg_q, t, cid = min(under)
        q = -neg_q
        if q > sq and st / REACH <= t < ROOM * st:
            pq, pt = max([(0.0, 0.0), *((q2, t2) for _c, q2, t2 in programs if t2 < t)])
            out.append((cid, sid, t, st, (q - pq) / (t - pt) * (BELOW[1] * st - t)))
    return out


def lift(code: str, tokens: float, target: float, ceiling: float, budget: float) -> tuple[str, str]:
    """The code of a child that spends about `target` tokens (never above `ceiling`) where its
    parent spends `tokens`, and what changed: a `share` that caps the parent is raised; else
    `TOP_K` goes up by one, capped with `share` at the target when one more item (estimated as
    tokens × (k + 1) / k, at most the budget) would spend more than the ceiling."""
    knobs = {k.name: k.value for k in read_knobs(code)}
    if KNOB in knobs and float(knobs[KNOB]) < HIGH:
        try:
            raised, old, new = share_for(code, tokens, target, budget)
        except OperatorError:
            raised, old, new = code, 0.0, 0.0
        if old is not None and new > old:  # the share binds (or caps the hits before they are expanded)
            return raised, f"{KNOB} {old:g} -> {new:g}"
    k = knobs.get(TOP_K)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k < TOP_K_MAX:
        raise OperatorError(f"the program's {KNOB} does not cap it and it has no {TOP_K} below {TOP_K_MAX} to raise")
    code = write_knobs(code, {TOP_K: k + 1})
    more = min(budget, tokens * (k + 1) / k)
    if more <= ceiling:
        return code, f"{TOP_K} {k} -> {k + 1}"
    code, old, new = share_for(code, more, target, budget)
    capped = f"{KNOB} {old:g} -> {new:g}" if old is not None else f"insert share ({KNOB} {new:g})"
    return code, f"{TOP_K} {k} -> {k + 1}, {capped}"


def _points(views: list[CandidateView], quality: str) -> list[tuple[str, float, float]]:
    return [(v.id, v.metrics[quality], v.metrics["tokens"]) for v in views
            if quality in v.metrics and "tokens" in v.metrics]


class Match:
    name = "match"
    arity = 1
    reads_front = True

    def __init__(self, objectives: list[tuple[str, str]] | None = None, token_budget: float = 0.0,
                 lift: bool = True) -> None:
        objectives = objectives or []
        if not isinstance(lift, bool):
            raise ValueError(f"match: lift must be true or false, not {lift!r}")
        if ("tokens", "min") not in objectives:
            raise ValueError("match needs the objective {metric: tokens, direction: min}")
        quality = [m for m, d in objectives if d == "max"]
        if not quality:
            raise ValueError("match needs an objective to maximise beside tokens")
        if token_budget <= 0:
            raise ValueError("match needs the task's token budget per query (budget_tokens)")
        self.quality = quality[0]
        self.budget = float(token_budget)
        self.lift = lift  # false: fit from above only (the operator before 2026-12-07 15:00)
        self.lifted: set[tuple[str, str]] = set()  # (program, seed): each lifted once per run

    def propose(self, ctx: OperatorContext) -> Proposal:
        views = {v.id: v for v in [*ctx.parents, *ctx.front]}
        seeds = {v.id: v for v in ctx.references}
        points = _points(list(views.values()), self.quality)
        seed_points = _points(list(seeds.values()), self.quality)
        found = [(*f, False) for f in pairs(seed_points, points)]
        if self.lift:
            found += [(*f, True) for f in lifts(seed_points, points) if (f[0], f[1]) not in self.lifted]
        while found:  # draw by lead; parse only the drawn program (a front can be long)
            k = ctx.rng.choices(range(len(found)), weights=[max(f[4], 1e-12) for f in found])[0]
            cid, sid, tokens, seed_tokens, lead, up = found.pop(k)
            if "hits" in slots(views[cid].code):
                break
        else:
            raise OperatorError("no pipeline program with a hits slot beats a seed at a little more than its tokens, "
                                "nor at clearly fewer")
        seed = seeds[sid].operator.removeprefix("seed:") or sid
        if up:
            self.lifted.add((cid, sid))
            target = ctx.rng.uniform(max(tokens, BELOW[0] * seed_tokens), BELOW[1] * seed_tokens)
            code, change = lift(views[cid].code, tokens, target, BELOW[1] * seed_tokens, self.budget)
            note = (f"match {cid} ({tokens:.1f} tokens, {lead:+.3f} {self.quality} over the seed) up to seed {seed}'s "
                    f"{seed_tokens:.1f}: {change}, toward {target:.1f}")
        else:
            target = seed_tokens * ctx.rng.uniform(*BELOW)
            code, old, new = share_for(views[cid].code, tokens, target, self.budget)
            change = f"{KNOB} {old:g} -> {new:g}" if old is not None else f"insert share ({KNOB} {new:g})"
            note = (f"match {cid} ({tokens:.1f} tokens, {lead:+.3f} {self.quality} over the best at the seed's "
                    f"tokens) to seed {seed}'s {seed_tokens:.1f}: {change}, toward {target:.1f}")
        problems = validate_source(code)
        if problems:
            raise OperatorError(f"match made an invalid program: {problems[0].render()}")
        meta: dict[str, Any] = {"target_tokens": round(target, 2), "seed": sid, "lift": up}
        return Proposal(code=code, note=note, operator=self.name, parents=(cid,), meta=meta)
