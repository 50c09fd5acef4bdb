"""knapsack: the DP is optimal, any optimal set is accepted, violations are named."""

from __future__ import annotations

import itertools

import pytest

import envfoundry
from envfoundry.envs.knapsack import Knapsack, solve


@pytest.fixture(scope="module")
def env() -> Knapsack:
    return envfoundry.make("knapsack")


def _brute_force(weights: list[int], values: list[int], capacity: int) -> int:
    best = 0
    for size in range(len(weights) + 1):
        for subset in itertools.combinations(range(len(weights)), size):
            if sum(weights[i] for i in subset) <= capacity:
                best = max(best, sum(values[i] for i in subset))
    return best


@pytest.mark.parametrize("correlation", ["uncorrelated", "weak", "strong"])
def test_dp_matches_brute_force(env, correlation):
    for seed in range(25):
        params = {"items": 10, "max_weight": 50, "capacity_ratio": 0.4, "correlation": correlation}
        state = env.sample(seed, params=params).state
        assert state["optimum"] == _brute_force(state["weights"], state["values"], state["capacity"])
        chosen = [i - 1 for i in state["chosen"]]
        assert sum(state["weights"][i] for i in chosen) <= state["capacity"]
        assert sum(state["values"][i] for i in chosen) == state["optimum"]


def test_solve_skips_items_heavier_than_the_capacity():
    assert solve([10, 3, 4], [100, 5, 6], 7) == (11, [1, 2])


# Items 1+2 and item 3 are both optimal (value 10, weight 5); 1+2+3 is overweight.
STATE = {"weights": [2, 3, 5, 4], "values": [4, 6, 10, 1], "capacity": 5, "optimum": 10, "chosen": [3]}


def test_a_different_optimal_set_earns_full_reward():
    env = Knapsack()
    assert env.verify(STATE, "3").reward == 1.0
    assert env.verify(STATE, "1 2").reward == 1.0
    assert env.verify(STATE, "2, 1").reward == 1.0
    assert env.verify(STATE, "[1 2].").reward == 1.0


def test_a_feasible_suboptimal_set_earns_documented_partial_credit():
    score = Knapsack().verify(STATE, "2")
    assert score.reward == pytest.approx(0.5 * 6 / 10)
    assert "optimum is 10" in score.reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("1 2 3", "exceeds the capacity"),
        ("3 3", "more than once"),
        ("5", "no item 5"),
        ("0 3", "no item 0"),
        ("1 2 or 3", "item numbers"),
        ("1.5", "item numbers"),
        ("none", "item numbers"),
        ("", "item numbers"),
    ],
)
def test_violations_score_zero_with_a_reason(answer, reason):
    score = Knapsack().verify(STATE, answer)
    assert score.reward == 0.0
    assert reason in score.reason


def test_taking_everything_is_never_feasible(env):
    for level in (0.0, 0.5, 1.0):
        for seed in range(30):
            state = env.sample(seed, level=level).state
            assert min(state["weights"]) <= state["capacity"] < sum(state["weights"])


def test_levels_change_the_instances(env):
    easy = [env.sample(s, level=0.0) for s in range(10)]
    hard = [env.sample(s, level=1.0) for s in range(10)]
    assert all(len(i.state["weights"]) == 4 for i in easy) and all(len(i.state["weights"]) == 30 for i in hard)
    assert max(i.state["capacity"] for i in easy) < min(i.state["capacity"] for i in hard)
    # Strong correlation at the top: every value is its weight plus the same constant.
    assert all(len({v - w for w, v in zip(i.state["weights"], i.state["values"], strict=True)}) == 1 for i in hard)
