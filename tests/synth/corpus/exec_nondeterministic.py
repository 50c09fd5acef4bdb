# expect: rejected at execution: different instances
"""Top-k sum: the sum of the k largest numbers in a list.

Everything is drawn from the given ``rng`` except the order in which the numbers are shown: that
shuffle uses the module-level ``random`` functions, so the same seed gives a different prompt on
every call.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class TopKSum(Environment):
    """Add up the k largest numbers of a list of integers (counting repeated values as often as
    they occur). The answer is that sum. Harder levels use longer lists, larger numbers and
    larger k."""

    name = "top_k_sum"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "length": IntParam(5, 60, description="how many numbers are listed"),
        "max_value": IntParam(20, 10**5, scale="log", description="numbers are drawn from [1, max_value]"),
        "k_share": IntParam(20, 50, description="k as a percentage of the list length"),
    }

    def generate(self, rng: random.Random, length: int, max_value: int, k_share: int) -> dict:
        numbers = sorted(rng.randint(1, max_value) for _ in range(length))
        k = max(2, length * k_share // 100)
        total = sum(numbers[-k:])
        # Bug: the global generator, not ``rng``, so the shown order changes from call to call.
        random.shuffle(numbers)
        return {"numbers": numbers, "k": k, "total": total}

    def prompt(self, state: dict) -> str:
        numbers = ", ".join(map(str, state["numbers"]))
        return (
            f"Here are {len(state['numbers'])} integers:\n{numbers}\n\n"
            f"What is the sum of the {state['k']} largest of them? (A value that occurs several times "
            "counts as several numbers.)\n" + answer_instruction("250")
        )

    def reference(self, state: dict) -> str:
        return str(state["total"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["total"]:
            return Score(0.0, f"{value} is not the sum of the {state['k']} largest numbers")
        return Score(1.0, "correct sum")

    def complexity(self, state: dict) -> float:
        return len(state["numbers"]) * math.log2(max(state["numbers"]) + 1)
