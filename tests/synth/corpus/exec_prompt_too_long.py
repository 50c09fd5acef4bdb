# expect: rejected at execution: prompt
"""Missing number: find the one number absent from a shuffled list of 1..n.

Bug: the hardest level lists 4,800 to 6,000 numbers, so the prompt runs to 23,000 characters
or more, over the 16,000-character budget per prompt (everything else about the task is sound).
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class MissingNumber(Environment):
    """All whole numbers from 1 to n but one are listed in shuffled order; find the missing one.
    The answer is that number. Harder levels use larger n."""

    name = "missing_number"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "max_n": IntParam(20, 6000, scale="log", description="n is drawn from [0.8 * max_n, max_n]"),
    }

    def generate(self, rng: random.Random, max_n: int) -> dict:
        n = rng.randint(max_n * 4 // 5, max_n)
        missing = rng.randint(1, n)
        numbers = [x for x in range(1, n + 1) if x != missing]
        rng.shuffle(numbers)
        return {"numbers": numbers, "missing": missing}

    def prompt(self, state: dict) -> str:
        n = len(state["numbers"]) + 1
        return (
            f"Every whole number from 1 to {n} except one appears exactly once in this list:\n"
            f"{' '.join(map(str, state['numbers']))}\n\nWhich number is missing?\n" + answer_instruction("8")
        )

    def reference(self, state: dict) -> str:
        return str(state["missing"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["missing"]:
            return Score(0.0, f"{value} is in the list, or out of range")
        return Score(1.0, "the missing number")

    def complexity(self, state: dict) -> float:
        n = len(state["numbers"]) + 1
        return n * math.log10(n)
