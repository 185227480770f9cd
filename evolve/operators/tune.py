"""Tune: Optuna over a program's knobs. Every trial is an ordinary candidate, evaluated through
the same sandbox path and recorded in the store; its objectives flow back to the study.

One study per program *structure* (the code with its knob values blanked), so every child
that differs from another only in knobs — whether `tune`, knob mutation or an LLM made it —
teaches the same study. The search space is fixed when a structure is first tuned, each knob
over its range (evolve/operators/knob_ranges.py): a catalogue component's knob its declared type
and range, any other knob a range around that program's value.

What one structure learned is shared with the others by knob name — in a pipeline program a
knob is a (component, knob) pair such as PRF_TERMS — so a structural child does not start
cold: a new study's first trial is the parent's knobs with every knob some earlier trial
put on the front (in any structure) set to that trial's value, where it lies in the space.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any

from evolve.novelty import program_hash
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knob_ranges import range_of
from evolve.operators.knobs import Knob, read_knobs, write_knobs


def _distribution(knob: Knob) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    r = range_of(knob)
    if r is None:
        return None
    if r.kind == "bool":
        return CategoricalDistribution([False, True])
    if r.kind == "int":
        return IntDistribution(int(r.low), int(r.high), log=r.log)
    return FloatDistribution(float(r.low), float(r.high), log=r.log)


def tunable(code: str) -> list[Knob]:
    return [k for k in read_knobs(code) if _distribution(k) is not None]


@functools.lru_cache(maxsize=4096)
def structure_key(code: str) -> str:
    """The program with every tunable knob blanked: children differing only in knobs share it."""
    knobs = tunable(code)
    blank = {k.name: (False if isinstance(k.value, bool) else type(k.value)(0)) for k in knobs}
    shape = program_hash(write_knobs(code, blank) if blank else code)
    return hashlib.sha256((shape + ",".join(sorted(blank))).encode()).hexdigest()[:16]


class OptunaTune:
    name = "tune"
    arity = 1

    def __init__(self, seed: int = 0, objectives: list[tuple[str, str]] | None = None,
                 startup_trials: int = 4, frozen: frozenset[str] | set[str] = frozenset()) -> None:
        self.seed = seed
        self.frozen = frozenset(frozen)  # knobs left as the parent has them (e.g. turn annotations)
        self.objectives = objectives or []
        self.startup_trials = startup_trials
        self.studies: dict[str, Any] = {}
        self.spaces: dict[str, dict[str, Any]] = {}
        self.bases: dict[str, dict[str, Any]] = {}  # the knob values each space was built around
        self.open_trials: dict[tuple[str, int], Any] = {}
        self.shared: dict[str, Any] = {}  # knob -> its value in the latest front-making trial, any structure

    def _study(self, key: str, knobs: list[Knob]) -> tuple[Any, dict[str, Any]]:
        if key not in self.studies:
            import optuna

            optuna.logging.set_verbosity(logging.WARNING)
            directions = ["maximize" if d == "max" else "minimize" for _, d in self.objectives]
            sampler = optuna.samplers.TPESampler(seed=self.seed + len(self.studies), multivariate=True,
                                                 n_startup_trials=self.startup_trials)
            self.studies[key] = optuna.create_study(directions=directions, sampler=sampler)
            self.spaces[key] = {k.name: _distribution(k) for k in knobs}
            self.bases[key] = {k.name: k.value for k in knobs}
            start = _within(self.spaces[key], self.shared)
            if start and any(self.bases[key][n] != v for n, v in start.items()):
                self.studies[key].enqueue_trial({**self.bases[key], **start})
        return self.studies[key], self.spaces[key]

    def propose(self, ctx: OperatorContext) -> Proposal:
        parent = ctx.parents[0]
        if not self.objectives:
            self.objectives = [(m, "max") for m in ctx.objectives]
        knobs = [k for k in tunable(parent.code) if k.name not in self.frozen]
        if not knobs:
            raise OperatorError(f"{parent.id} has no numeric or boolean knobs to tune")
        key = structure_key(parent.code)
        study, space = self._study(key, knobs)
        trial = study.ask(space)
        params = {n: (round(v, 6) if isinstance(v, float) else v) for n, v in trial.params.items()}
        code = write_knobs(parent.code, params)  # only literals change: the child is as valid as its parent
        self.open_trials[(key, trial.number)] = trial
        note = "tune trial %d: %s" % (trial.number, ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())))
        return Proposal(code=code, note=note, operator=self.name, parents=(parent.id,),
                        meta={"tune_study": key, "trial": trial.number, "params": params,
                              "base": self.bases[key]})

    def observe(self, meta: dict[str, Any], metrics: dict[str, float] | None, on_front: bool) -> None:
        """A trial's candidate finished (metrics None: failed, duplicate or stopped early)."""
        key = (meta.get("tune_study"), meta.get("trial"))
        trial = self.open_trials.pop(key, None)
        if trial is None:
            # asked in an earlier session (the campaign was resumed while it was being evaluated):
            # its study was rebuilt by `restore`; the result joins it as a finished trial
            study_key = key[0]
            if metrics is not None and study_key in self.studies and meta.get("params") is not None \
                    and all(m in metrics for m, _ in self.objectives):
                self._add_finished(study_key, dict(meta["params"]), metrics)
            return
        study = self.studies[key[0]]
        if on_front and metrics is not None:
            self.shared.update(meta.get("params") or {})
        if metrics is None or any(m not in metrics for m, _ in self.objectives):
            study.tell(trial, state=_failed())
        else:
            study.tell(trial, [metrics[m] for m, _ in self.objectives])

    def learn(self, code: str, metrics: dict[str, float] | None) -> None:
        """Another operator's candidate finished: if its structure is being tuned, it is a free trial."""
        if metrics is None or any(m not in metrics for m, _ in self.objectives):
            return
        key = structure_key(code)
        if key not in self.studies:
            return
        space = self.spaces[key]
        params = {k.name: k.value for k in tunable(code) if k.name in space}
        if set(params) != set(space):
            return
        for name, value in params.items():
            dist = space[name]
            if isinstance(value, float) and type(dist).__name__ == "IntDistribution":
                return
            try:
                if not dist._contains(dist.to_internal_repr(value)):
                    return  # outside the range this study searches
            except (ValueError, TypeError):
                return
        self._add_finished(key, params, metrics)

    def _add_finished(self, key: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
        import optuna

        space = self.spaces[key]
        if set(params) != set(space):
            return
        self.studies[key].add_trial(optuna.trial.create_trial(
            params=params, distributions=space, values=[metrics[m] for m, _ in self.objectives]))

    def restore(self, history: list[tuple[str, str, dict[str, Any], dict[str, float] | None]]) -> None:
        """Rebuild the studies after a resume from (operator, code, meta, metrics) of every finished
        candidate, in creation order; each study gets back the space it was first built with."""
        for operator, code, meta, metrics in history:
            if operator == self.name and meta.get("tune_study") and meta.get("base"):
                self._study(meta["tune_study"], [Knob(n, v) for n, v in meta["base"].items()])
            self.learn(code, metrics)


def _within(space: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The values that name a knob of `space` and lie inside its distribution."""
    out = {}
    for name, value in values.items():
        dist = space.get(name)
        if dist is None or (isinstance(value, float) and type(dist).__name__ == "IntDistribution"):
            continue
        try:
            if dist._contains(dist.to_internal_repr(value)):
                out[name] = value
        except (ValueError, TypeError):
            continue
    return out


def _failed() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL
