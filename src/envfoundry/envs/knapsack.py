"""0/1 knapsack: pick items of greatest total value without exceeding a weight capacity.

The optimum is computed exactly by the classic dynamic programme over capacities: the space
bounds the capacity by 30 items * 100 max weight * 0.5, so the table has at most 30 * 1,500 cells
and fills in about a millisecond.
``verify`` checks the submitted set itself, so *any* optimal set earns full reward.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import (
    ChoiceParam,
    Environment,
    FloatParam,
    IntParam,
    Score,
    answer_instruction,
    parse_int_list,
    register,
)

# A feasible but suboptimal set earns at most this much, scaled by its share of the optimum.
PARTIAL_CAP = 0.5


def solve(weights: list[int], values: list[int], capacity: int) -> tuple[int, list[int]]:
    """Optimal value and one optimal set of 0-based item indices, by the textbook DP over capacities.

    Each item's row is built in one list comprehension from the previous row (fast in CPython);
    the rows are kept so one optimal set can be read back afterwards.
    """
    best = [0] * (capacity + 1)
    rows = [best]
    for w, v in zip(weights, values, strict=True):
        if w <= capacity:
            # new[c] = max(best[c], best[c - w] + v) for c >= w; lighter capacities are unchanged.
            best = best[:w] + [a if a >= b + v else b + v for a, b in zip(best[w:], best, strict=False)]
        rows.append(best)
    chosen = []
    c = capacity
    for index in range(len(weights) - 1, -1, -1):
        if rows[index + 1][c] != rows[index][c]:
            chosen.append(index)
            c -= weights[index]
    chosen.reverse()
    return best[capacity], chosen


def parse_items(answer: str) -> list[int] | None:
    """Item numbers separated by spaces (commas tolerated), optionally in brackets; else None."""
    return parse_int_list(answer, negative=False, max_digits=6)


class Knapsack(Environment):
    """0/1 knapsack: choose items (each at most once) whose total weight is at most the capacity
    and whose total value is as large as possible. The answer is the chosen item numbers (1-based,
    as listed). Any feasible set whose value equals the optimum (computed by dynamic programming)
    earns 1.0. Partial credit: a feasible set of smaller value earns 0.5 * value / optimum (always
    below 0.5); an overweight set, a repeated or unknown item number earns 0. Harder levels use
    more items, larger numbers, a roomier knapsack and values correlated with weights (which
    defeats the greedy value-per-weight heuristic)."""

    name = "knapsack"
    asymmetry = "algorithmic"
    family = "optimization"
    space = {
        "items": IntParam(4, 30, description="number of items to choose from"),
        "max_weight": IntParam(10, 100, scale="log", description="weights are drawn from [1, max_weight]"),
        "capacity_ratio": FloatParam(
            0.25, 0.5, description="capacity as a share of the total weight (0.5 maximises the feasible sets)"
        ),
        "correlation": ChoiceParam(
            ["uncorrelated", "weak", "strong"],
            description="how values follow weights: independent, weight plus noise, or weight plus a constant",
        ),
    }

    def generate(
        self, rng: random.Random, items: int, max_weight: int, capacity_ratio: float, correlation: str
    ) -> dict:
        # int(rand() * k) draws from range(k) faster than rng.randint; it still uses only ``rng``.
        rand = rng.random
        weights = [1 + int(rand() * max_weight) for _ in range(items)]
        spread = max(1, max_weight // 10)
        if correlation == "uncorrelated":
            values = [1 + int(rand() * max_weight) for _ in range(items)]
        elif correlation == "weak":
            values = [max(1, w - spread + int(rand() * (2 * spread + 1))) for w in weights]
        else:
            values = [w + spread for w in weights]
        total = sum(weights)
        # At least the lightest item fits, and never all of them, so "take everything" is wrong
        # (with two or more items the lightest weighs at most total - 1).
        capacity = min(total - 1, max(min(weights), round(total * capacity_ratio)))
        optimum, chosen = solve(weights, values, capacity)
        return {
            "weights": weights,
            "values": values,
            "capacity": capacity,
            "optimum": optimum,
            "chosen": [i + 1 for i in chosen],
        }

    def prompt(self, state: dict) -> str:
        lines = "\n".join(
            f"Item {i}: weight {w}, value {v}"
            for i, (w, v) in enumerate(zip(state["weights"], state["values"], strict=True), start=1)
        )
        return (
            f"You have a knapsack that can carry a total weight of at most {state['capacity']}, and "
            f"{len(state['weights'])} items:\n\n{lines}\n\n"
            f"Choose a set of items (each item at most once) whose total weight is at most "
            f"{state['capacity']} and whose total value is as large as possible. Answer with the numbers "
            f"of the chosen items separated by spaces.\n" + answer_instruction("1 4 5")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["chosen"]))

    def verify(self, state: dict, answer: str) -> Score:
        chosen = parse_items(answer)
        if chosen is None:
            return Score(0.0, "answer must be item numbers separated by spaces")
        weights, values = state["weights"], state["values"]
        n = len(weights)
        unknown = [i for i in chosen if not 1 <= i <= n]
        if unknown:
            return Score(0.0, f"there is no item {unknown[0]} (items are numbered 1 to {n})")
        if len(set(chosen)) != len(chosen):
            return Score(0.0, "an item is chosen more than once")
        weight = sum(weights[i - 1] for i in chosen)
        if weight > state["capacity"]:
            return Score(0.0, f"total weight {weight} exceeds the capacity {state['capacity']}")
        value = sum(values[i - 1] for i in chosen)
        optimum = state["optimum"]
        if value == optimum:
            return Score(1.0, f"an optimal set (value {value})", {"value": value})
        return Score(
            PARTIAL_CAP * value / optimum,
            f"a feasible set of value {value}, but the optimum is {optimum}",
            {"value": value, "optimum": optimum},
        )

    def complexity(self, state: dict) -> float:
        # Items times bits of capacity: the size of the textbook DP table, on a log scale.
        return len(state["weights"]) * math.log2(state["capacity"] + 1)


register(Knapsack)
