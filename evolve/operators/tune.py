"""Tune: Optuna over a parent's knobs. Every trial is an ordinary candidate, evaluated through
the same sandbox path and recorded in the store; its objectives flow back to the study.

One study per parent program; the search space is built around the parent's current values
(integers ×/÷4 on a log scale, fractions in [0, 1], other floats ×/÷4, booleans both ways).
"""
from __future__ import annotations

import logging
from typing import Any

from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knobs import Knob, read_knobs, write_knobs


def _distribution(knob: Knob) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    v = knob.value
    if isinstance(v, bool):
        return CategoricalDistribution([False, True])
    if isinstance(v, int):
        if v == 0:
            return IntDistribution(0, 8)  # a switch or a count that is off: never negative
        if v < 0:
            return IntDistribution(v * 4, -1)
        return IntDistribution(max(1, v // 4), max(v * 4, 2), log=True)
    if isinstance(v, float):
        if 0.0 <= v <= 1.0:
            return FloatDistribution(0.0, 1.0)
        if v > 0:
            return FloatDistribution(v / 4, v * 4, log=True)
        return FloatDistribution(v * 4, v / 4)
    return None


class OptunaTune:
    name = "tune"
    arity = 1

    def __init__(self, seed: int = 0, objectives: list[tuple[str, str]] | None = None) -> None:
        self.seed = seed
        self.objectives = objectives or []
        self.studies: dict[str, Any] = {}
        self.open_trials: dict[tuple[str, int], Any] = {}

    def _study(self, parent_id: str) -> Any:
        if parent_id not in self.studies:
            import optuna

            optuna.logging.set_verbosity(logging.WARNING)
            directions = ["maximize" if d == "max" else "minimize" for _, d in self.objectives]
            sampler = optuna.samplers.TPESampler(seed=self.seed + len(self.studies), multivariate=True,
                                                 n_startup_trials=4)
            self.studies[parent_id] = optuna.create_study(directions=directions, sampler=sampler)
        return self.studies[parent_id]

    def propose(self, ctx: OperatorContext) -> Proposal:
        parent = ctx.parents[0]
        if not self.objectives:
            self.objectives = [(m, "max") for m in ctx.objectives]
        knobs = [k for k in read_knobs(parent.code) if _distribution(k) is not None]
        space = {k.name: _distribution(k) for k in knobs}
        if not space:
            raise OperatorError(f"{parent.id} has no numeric or boolean knobs to tune")
        study = self._study(parent.id)
        trial = study.ask(space)
        params = {n: (round(v, 6) if isinstance(v, float) else v) for n, v in trial.params.items()}
        code = write_knobs(parent.code, params)
        problems = validate_source(code)
        if problems:
            study.tell(trial, state=_failed())
            raise OperatorError(f"tuned program is invalid: {problems[0].render()}")
        self.open_trials[(parent.id, trial.number)] = trial
        note = "tune trial %d: %s" % (trial.number, ", ".join(f"{k}={v!r}" for k, v in sorted(params.items())))
        return Proposal(code=code, note=note, operator=self.name, parents=(parent.id,),
                        meta={"tune_study": parent.id, "trial": trial.number, "params": params,
                              "base": {k.name: k.value for k in knobs}})

    def observe(self, meta: dict[str, Any], metrics: dict[str, float] | None, on_front: bool) -> None:
        """The candidate a trial made has finished (metrics None: failed, duplicate or stopped early)."""
        key = (meta.get("tune_study"), meta.get("trial"))
        trial = self.open_trials.pop(key, None)
        if trial is None:
            return
        study = self.studies[key[0]]
        if metrics is None or any(m not in metrics for m, _ in self.objectives):
            study.tell(trial, state=_failed())
        else:
            study.tell(trial, [metrics[m] for m, _ in self.objectives])

    def restore(self, history: list[tuple[dict[str, Any], dict[str, float] | None]]) -> None:
        """Rebuild studies after a resume from the trials already recorded in the store."""
        import optuna

        for meta, metrics in history:
            parent, params, base = meta.get("tune_study"), meta.get("params"), meta.get("base", {})
            if not parent or not params or set(params) != set(base):
                continue
            study = self._study(parent)
            dists = {n: _distribution(Knob(n, base[n])) for n in params}
            if metrics is None or any(m not in metrics for m, _ in self.objectives):
                study.add_trial(optuna.trial.create_trial(params={n: params[n] for n in dists}, distributions=dists,
                                                          state=_failed()))
            else:
                study.add_trial(optuna.trial.create_trial(params={n: params[n] for n in dists}, distributions=dists,
                                                          values=[metrics[m] for m, _ in self.objectives]))


def _failed() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL
