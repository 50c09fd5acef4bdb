# expect: rejected at execution: complexity
"""Maximum subarray sum: the largest total of a run of adjacent numbers.

The optimum comes from Kadane's algorithm. Bug: ``complexity`` reports the upper bound of the
length dimension instead of this instance's length, so the measured difficulty is the same at
every level even though the instances do grow.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def max_subarray(values: list[int]) -> int:
    """Largest sum of a non-empty run of adjacent values (Kadane)."""
    best = current = values[0]
    for x in values[1:]:
        current = max(x, current + x)
        best = max(best, current)
    return best


class MaxSubarraySum(Environment):
    """Given a sequence of integers (some negative), find the largest sum of a non-empty run of
    adjacent numbers. The answer is that sum. Harder levels use longer sequences and larger
    numbers."""

    name = "max_subarray_sum"
    asymmetry = "algorithmic"
    family = "sequences"
    version = 1
    space = {
        "length": IntParam(5, 60, description="how many integers the sequence has"),
        "max_value": IntParam(9, 999, scale="log", description="values are drawn from [-max_value, max_value]"),
    }

    def generate(self, rng: random.Random, length: int, max_value: int) -> dict:
        values = [rng.randint(-max_value, max_value) for _ in range(length)]
        return {"values": values, "best": max_subarray(values)}

    def prompt(self, state: dict) -> str:
        values = ", ".join(map(str, state["values"]))
        return (
            f"Here is a sequence of {len(state['values'])} integers:\n{values}\n\n"
            "What is the largest possible sum of a non-empty run of adjacent numbers in it?\n"
            + answer_instruction("17")
        )

    def reference(self, state: dict) -> str:
        return str(state["best"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["best"]:
            return Score(0.0, f"{value} is not the largest run sum")
        return Score(1.0, "correct maximum")

    def complexity(self, state: dict) -> float:
        # Bug: the bound of the space, not the size of this instance.
        return float(self.space["length"].high)
