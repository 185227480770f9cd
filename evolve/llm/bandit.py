"""Which LLM model to ask next: a cost-aware Thompson-sampling bandit.

One arm per (operator, model). An arm's reward arrives later, when its child has been
evaluated: 1 if the child entered the Pareto front, else 0 (fractions are allowed), with
the dollars the child's LLM calls cost. To choose, each candidate arm draws a success rate
from its Beta posterior and divides it by everything a child costs — its mean LLM dollars
*plus the evaluation it uses* (`eval_cost`, dollars per evaluation) — times the model's
configured weight; the best draw wins. So at equal success the cheaper model is asked
more, a pricier model has to earn its price with more front members, and a free model that
rarely succeeds cannot starve a priced one that often does: its children still spend the
evaluation budget (dividing by dollars alone, a free model at 2 % took 300 of 300 picks
against a $0.003 one at 50 %).

Seeded, and the whole state (counts, costs, the generator's state) round-trips through
JSON, so a resumed campaign makes the same choices an uninterrupted one would have.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

MIN_COST = 1e-6  # dollars; a free (local) model still has a finite value per dollar
EVAL_COST = 0.01  # dollars one evaluation is worth when nobody says (see LLMConfig.evaluation_usd)


def arm_key(operator: str, model: str) -> str:
    return f"{operator}|{model}"


@dataclass
class ArmStats:
    pulls: int = 0
    successes: float = 0.0
    cost_usd: float = 0.0

    def mean_cost(self, prior_cost: float) -> float:
        # One pseudo-observation at the prior cost keeps a fresh arm from looking free.
        return max(MIN_COST, (self.cost_usd + prior_cost) / (self.pulls + 1))


class ModelBandit:
    def __init__(self, seed: int = 0, *, weights: dict[str, float] | None = None,
                 prior_cost: float | None = None, prior_costs: dict[str, float] | None = None,
                 eval_cost: float = EVAL_COST) -> None:
        self.rng = random.Random(seed)
        self.eval_cost = eval_cost  # every child uses one evaluation of the budget, whatever its model
        self.weights = dict(weights or {})
        self.prior_cost = prior_cost  # None: the mean cost per child seen so far over all arms
        # per model, an estimate of dollars per child (e.g. `LLMClient.cost_estimates()`), so the
        # bandit knows which model is cheaper before it has paid for either
        self.prior_costs = dict(prior_costs or {})
        self.arms: dict[str, ArmStats] = {}
        self._lock = threading.Lock()  # operators propose from a thread pool

    def _prior_cost(self) -> float:
        if self.prior_cost is not None:
            return self.prior_cost
        pulls = sum(a.pulls for a in self.arms.values())
        return sum(a.cost_usd for a in self.arms.values()) / pulls if pulls else MIN_COST

    def choose(self, operator: str, models: list[str]) -> str:
        """The model to use for the next child of `operator`."""
        if not models:
            raise ValueError("the bandit needs at least one model to choose from")
        with self._lock:
            return self._choose(operator, models)

    def _choose(self, operator: str, models: list[str]) -> str:
        prior = self._prior_cost()
        best, best_value = models[0], -1.0
        for model in models:
            weight = self.weights.get(model, 1.0)
            if weight <= 0:
                continue
            stats = self.arms.get(arm_key(operator, model), ArmStats())
            failures = max(0.0, stats.pulls - stats.successes)
            rate = self.rng.betavariate(1.0 + stats.successes, 1.0 + failures)
            value = weight * rate / (stats.mean_cost(self.prior_costs.get(model, prior)) + self.eval_cost)
            if value > best_value:
                best, best_value = model, value
        return best

    def update(self, arm: str, reward: float, cost_usd: float) -> None:
        """Report the outcome of one child made through `arm` (see `arm_key`)."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"bandit reward must be in [0, 1], got {reward}")
        with self._lock:
            stats = self.arms.setdefault(arm, ArmStats())
            stats.pulls += 1
            stats.successes += reward
            stats.cost_usd += max(0.0, cost_usd)

    def stats(self) -> dict[str, dict[str, float]]:
        prior = self._prior_cost()
        return {k: {"pulls": a.pulls, "successes": a.successes, "cost_usd": a.cost_usd,
                    "success_rate": (a.successes + 1) / (a.pulls + 2),
                    "mean_cost": a.mean_cost(self.prior_costs.get(k.split("|", 1)[1], prior))}
                for k, a in sorted(self.arms.items())}

    def to_json(self) -> dict[str, Any]:
        version, internal, gauss = self.rng.getstate()
        return {"weights": self.weights, "prior_cost": self.prior_cost, "prior_costs": self.prior_costs,
                "eval_cost": self.eval_cost,
                "arms": {k: asdict(a) for k, a in self.arms.items()},
                "rng": [version, list(internal), gauss]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelBandit":
        bandit = cls(weights=data.get("weights"), prior_cost=data.get("prior_cost"),
                     prior_costs=data.get("prior_costs"))
        bandit.arms = {k: ArmStats(**v) for k, v in data.get("arms", {}).items()}
        version, internal, gauss = data["rng"]
        bandit.rng.setstate((version, tuple(internal), gauss))
        return bandit
