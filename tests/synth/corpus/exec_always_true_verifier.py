# expect: rejected at execution: malformed answer
"""Inversion count: how many pairs of positions hold their values in the wrong order.

The count comes from a merge sort that counts the pairs it crosses. The verifier, though, never
looks at the answer: it gives full reward to everything, so any text at all passes.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction


def count_inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j], by merge sort in O(n log n)."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = sorted(values[:middle]), sorted(values[middle:])
    crossing = 0
    j = 0
    for x in left:
        while j < len(right) and right[j] < x:
            j += 1
        crossing += j
    return count_inversions(values[:middle]) + count_inversions(values[middle:]) + crossing


class InversionCount(Environment):
    """Count the inversions of a sequence of integers: the pairs of positions i < j whose values
    are out of order (the value at i is larger than the value at j). The answer is that count.
    Harder levels use longer sequences and a wider range of values."""

    name = "inversion_count"
    asymmetry = "algorithmic"
    family = "sequences"
    version = 1
    space = {
        "length": IntParam(5, 60, description="how many integers the sequence has"),
        "max_value": IntParam(9, 999, scale="log", description="values are drawn from [0, max_value]"),
    }

    def generate(self, rng: random.Random, length: int, max_value: int) -> dict:
        values = [rng.randint(0, max_value) for _ in range(length)]
        return {"values": values, "inversions": count_inversions(values)}

    def prompt(self, state: dict) -> str:
        values = ", ".join(map(str, state["values"]))
        return (
            f"Here is a sequence of {len(state['values'])} integers:\n{values}\n\n"
            "An inversion is a pair of positions i < j where the value at position i is strictly larger "
            "than the value at position j. How many inversions does the sequence have?\n" + answer_instruction("12")
        )

    def reference(self, state: dict) -> str:
        return str(state["inversions"])

    def verify(self, state: dict, answer: str) -> Score:
        # Bug: the answer is never compared with the count.
        return Score(1.0, "answer received")

    def complexity(self, state: dict) -> float:
        values = state["values"]
        return len(values) * math.log2(len(values))
