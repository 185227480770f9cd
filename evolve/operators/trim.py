"""trim: fill a gap on the front's token axis by making a strong program spend a little less.

Recall within a token budget falls slowly as a ranked list loses its last items (the last
turns are the least likely to hold evidence), while the knob that usually sets a program's
tokens, `TOP_K`, moves them a whole item at a time. So a front often jumps from a strong
program just above some token level to a much weaker one well below it. `trim` picks such a
gap — the wider the gap and the larger the quality drop across it, the likelier (the area of
the step, i.e. the hypervolume a point inside it could add; below the cheapest program lies the
empty recall, 0 at 0 tokens) — takes the program above it, and
ends its `hits` slot with the catalogue's `share` step (or resets the one it has; one that caps
the hits before neighbours are added is scaled where it is — `share_for`), set so the child
spends tokens inside the gap: no more than a quarter fewer than the parent.

Needs a `tokens` objective to minimise and a quality objective to maximise; the parent must
be a pipeline program (design_space/catalogue.py) with a `hits` slot.
"""
from __future__ import annotations

from typing import Any

from design_space.catalogue import COMPONENTS
from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knobs import read_knobs, write_knobs
from evolve.operators.pipeline_edits import insert_at, slots
from evolve.operators.structural_edits import has_step

SHARE = COMPONENTS["share"]
KNOB = SHARE.knobs[0].name  # TOKEN_SHARE
LOW, HIGH = float(SHARE.knobs[0].low), float(SHARE.knobs[0].high)
MAX_CUT = 0.25  # a child spends at least 75 % of its parent's tokens
SLACK = 0.05  # a cap binds about half an item above the tokens a program spends: a share of the budget


def gaps(points: list[tuple[str, float, float]]) -> list[tuple[str, float, float, float]]:
    """(upper id, its tokens, lower tokens, weight) for each step of a front given as
    (id, quality, tokens); weight = token gap × quality drop across it. Below the cheapest point
    lies the program that returns nothing (quality 0 at 0 tokens)."""
    pts = sorted([("", 0.0, 0.0), *points], key=lambda p: (p[2], -p[1]))
    out = []
    for k in range(1, len(pts)):
        cid, q, t = pts[k]
        _lo_id, lo_q, lo_t = pts[k - 1]
        if cid and t > lo_t and q > lo_q:
            out.append((cid, t, lo_t, (t - lo_t) * (q - lo_q)))
    return out


def share_for(code: str, tokens: float, target: float, budget: float) -> tuple[str, float | None, float]:
    """The child's code with a `share` step set so that it spends about `target` tokens per query;
    returns (code, the parent's share or None, the child's share).

    A share last in hits caps every turn recalled: it is set from the budget (or appended, when
    the hits hold none). A share that other steps follow (the catalogue's `neighbours` after it, or
    an added neighbours step around the pipeline) caps the hits before they are expanded: it stays
    where it is and is scaled by target / tokens, since the turns it lets through are expanded in
    proportion. Without a share, a program that expands after its hits slot cannot be capped there."""
    hits = slots(code).get("hits")
    if hits is None:
        raise OperatorError("the parent has no hits slot")
    held = [k for k, (_a, _b, c) in enumerate(hits.calls) if c.name == SHARE.name]
    knobs = {k.name: k.value for k in read_knobs(code)}
    old = float(knobs.get(KNOB, HIGH)) if held else HIGH
    expands = has_step(code, "neighbours")  # an added neighbours step appends turns after the hits slot
    if held and (held[-1] != len(hits.calls) - 1 or expands):
        new = round(max(LOW, min(HIGH, old * target / tokens)), 3)
    elif expands:
        raise OperatorError("the parent adds turns after its hits slot (a neighbours step) and holds no share to scale")
    else:
        effective = min(old, tokens / budget + SLACK)  # where the parent's own cap sits, or would bind
        new = round(max(LOW, min(HIGH, effective - (tokens - target) / budget)), 3)
        if not held:
            code = insert_at(code, "hits", SHARE, len(hits.calls))
    if held and abs(new - old) < 0.005:
        raise OperatorError(f"{KNOB} is already {old}" + (" (its lowest)" if new <= LOW else ""))
    return write_knobs(code, {KNOB: new}), (old if held else None), new


class Trim:
    name = "trim"
    arity = 1
    reads_front = True

    def __init__(self, objectives: list[tuple[str, str]] | None = None, token_budget: float = 0.0) -> None:
        objectives = objectives or []
        if ("tokens", "min") not in objectives:
            raise ValueError("trim needs the objective {metric: tokens, direction: min}")
        quality = [m for m, d in objectives if d == "max"]
        if not quality:
            raise ValueError("trim needs an objective to maximise beside tokens")
        if token_budget <= 0:
            raise ValueError("trim needs the task's token budget per query (budget_tokens)")
        self.quality = quality[0]
        self.budget = float(token_budget)

    def propose(self, ctx: OperatorContext) -> Proposal:
        views = {v.id: v for v in [*ctx.parents, *ctx.front]}
        points = [(cid, v.metrics[self.quality], v.metrics["tokens"]) for cid, v in views.items()
                  if self.quality in v.metrics and "tokens" in v.metrics]
        steps = gaps(points)
        while steps:  # draw by weight; parse only the drawn program (a front can be long)
            k = ctx.rng.choices(range(len(steps)), weights=[max(s[3], 1e-12) for s in steps])[0]
            cid, tokens, lower, _w = steps.pop(k)
            if "hits" in slots(views[cid].code):
                break
        else:
            raise OperatorError("no gap on the front below a pipeline program with a hits slot")
        floor = max(lower, (1.0 - MAX_CUT) * tokens)
        target = floor + ctx.rng.uniform(0.1, 0.9) * (tokens - floor)
        parent = views[cid]
        code, old, new = share_for(parent.code, tokens, target, self.budget)
        problems = validate_source(code)
        if problems:
            raise OperatorError(f"trim made an invalid program: {problems[0].render()}")
        change = f"{KNOB} {old:g} -> {new:g}" if old is not None else f"insert share ({KNOB} {new:g})"
        note = (f"trim {cid} from {tokens:.1f} toward {target:.1f} tokens (the front's next point spends "
                f"{lower:.1f}): {change}")
        meta: dict[str, Any] = {"target_tokens": round(target, 2), "share": new}
        return Proposal(code=code, note=note, operator=self.name, parents=(cid,), meta=meta)
