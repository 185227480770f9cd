"""The cost-aware model bandit: cheaper at equal success, better at equal cost, resumable."""
from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from evolve.llm import ModelBandit, arm_key

MODELS = ["openai/big", "openai/small"]


def simulate(bandit, success, cost, rounds=400, seed=3):
    world = random.Random(seed)
    picks = Counter()
    for _ in range(rounds):
        model = bandit.choose("llm_edit", MODELS)
        picks[model] += 1
        bandit.update(arm_key("llm_edit", model), float(world.random() < success[model]), cost[model])
    return picks


def test_prefers_the_cheaper_model_at_equal_success():
    picks = simulate(ModelBandit(seed=0), {"openai/big": 0.3, "openai/small": 0.3},
                     {"openai/big": 0.02, "openai/small": 0.002})
    assert picks["openai/small"] > 0.8 * sum(picks.values())


def test_prefers_the_more_successful_model_at_equal_cost():
    picks = simulate(ModelBandit(seed=0), {"openai/big": 0.6, "openai/small": 0.1},
                     {"openai/big": 0.01, "openai/small": 0.01})
    assert picks["openai/big"] > 0.75 * sum(picks.values())


def test_a_pricier_model_that_earns_its_price_is_kept():
    # 10x the price but 20x the front members: better value per dollar
    picks = simulate(ModelBandit(seed=0), {"openai/big": 0.6, "openai/small": 0.03},
                     {"openai/big": 0.01, "openai/small": 0.001}, rounds=600)
    assert picks["openai/big"] > picks["openai/small"]


def test_state_round_trips_through_json_and_choices_continue_identically():
    bandit = ModelBandit(seed=5, weights={"openai/big": 2.0})
    simulate(bandit, {"openai/big": 0.4, "openai/small": 0.2}, {"openai/big": 0.01, "openai/small": 0.003}, 50)
    clone = ModelBandit.from_json(json.loads(json.dumps(bandit.to_json())))
    assert [bandit.choose("crossover", MODELS) for _ in range(30)] == \
           [clone.choose("crossover", MODELS) for _ in range(30)]
    assert clone.stats() == bandit.stats()


def test_zero_weight_is_never_chosen_and_rewards_are_checked():
    bandit = ModelBandit(seed=1, weights={"openai/big": 0.0})
    assert {bandit.choose("llm_edit", MODELS) for _ in range(50)} == {"openai/small"}
    with pytest.raises(ValueError, match="reward must be in"):
        bandit.update(arm_key("llm_edit", "openai/small"), 2.0, 0.0)


def test_configured_prices_steer_the_first_choices():
    from evolve.llm import LLMClient, ModelSpec

    client = LLMClient([ModelSpec("openai/big", price_in=5.0, price_out=15.0),
                        ModelSpec("openai/small", price_in=0.15, price_out=0.6)])
    estimates = client.cost_estimates()
    assert estimates["openai/big"] == pytest.approx((8000 * 5.0 + 1500 * 15.0) / 1e6)
    informed = ModelBandit(seed=0, prior_costs=estimates)
    picks = Counter(informed.choose("llm_edit", MODELS) for _ in range(40))
    assert picks["openai/small"] >= 36  # nothing learnt yet, but one is ~30x cheaper
    blind = ModelBandit(seed=0)
    assert 10 < Counter(blind.choose("llm_edit", MODELS) for _ in range(40))["openai/small"] < 30
