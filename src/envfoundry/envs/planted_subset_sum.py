"""Planted subset-sum: find numbers from a list that add up to a target.

The target is the sum of a hidden (planted) subset, so an answer always exists; ``verify``
accepts *any* sub-multiset with the right sum, not only the planted one.
"""

from __future__ import annotations

import math
import random
from collections import Counter

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


class PlantedSubsetSum(Environment):
    """Find a subset of the given numbers whose sum is exactly the target. The target is the sum
    of a planted subset, so a solution always exists; any subset with the right sum is accepted."""

    name = "planted_subset_sum"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "n": IntParam(4, 40, description="how many numbers are shown"),
        "max_value": IntParam(10, 10**6, scale="log", description="numbers are drawn from [1, max_value]"),
        "distractor_ratio": FloatParam(
            0.1, 0.5, description="share of the numbers outside the planted subset (0.5 maximises the search space)"
        ),
        "order": ChoiceParam(["sorted", "shuffled"], description="whether the numbers are shown sorted"),
    }

    def generate(self, rng: random.Random, n: int, max_value: int, distractor_ratio: float, order: str) -> dict:
        numbers = [rng.randint(1, max_value) for _ in range(n)]
        # At least one number in and one out of the subset, so "take everything" is never right.
        size = min(n - 1, max(1, round(n * (1.0 - distractor_ratio))))
        planted = sorted(rng.sample(range(n), size))
        target = sum(numbers[i] for i in planted)
        # Keep the planted values with the shown order, so the reference can be checked against them.
        if order == "sorted":
            indexed = sorted(range(n), key=lambda i: numbers[i])
        else:
            indexed = list(range(n))
            rng.shuffle(indexed)
        position = {old: new for new, old in enumerate(indexed)}
        shown = [numbers[i] for i in indexed]
        planted_positions = sorted(position[i] for i in planted)
        return {"numbers": shown, "target": target, "planted": planted_positions}

    def prompt(self, state: dict) -> str:
        numbers = " ".join(str(x) for x in state["numbers"])
        return (
            f"Here are {len(state['numbers'])} positive integers:\n{numbers}\n\n"
            f"Choose some of them (each listed number may be used at most once) so that the chosen "
            f"numbers add up to exactly {state['target']}. Answer with the chosen numbers separated "
            f"by spaces.\n" + answer_instruction("12 7 30")
        )

    def reference(self, state: dict) -> str:
        # Largest first: never a contiguous run of the prompt's list when it is shown sorted.
        chosen = sorted((state["numbers"][i] for i in state["planted"]), reverse=True)
        return " ".join(str(x) for x in chosen)

    def worked_solution(self, state: dict) -> str:
        return f"{' + '.join(self.reference(state).split())} = {state['target']}"

    def verify(self, state: dict, answer: str) -> Score:
        chosen = parse_int_list(answer)
        if chosen is None:
            return Score(0.0, "answer must be integers separated by spaces")
        available = Counter(state["numbers"])
        overused = Counter(chosen) - available
        if overused:
            return Score(0.0, f"uses numbers not available (or too often): {sorted(overused)}")
        total = sum(chosen)
        if total != state["target"]:
            return Score(0.0, f"chosen numbers sum to {total}, not {state['target']}")
        return Score(1.0, "sum matches the target")

    def complexity(self, state: dict) -> float:
        n = len(state["numbers"])
        k = len(state["planted"])
        # log2 of the number of subsets of the planted size, times the digits per number.
        return math.log2(math.comb(n, k)) * math.log10(max(state["numbers"]) + 1)


register(PlantedSubsetSum)
