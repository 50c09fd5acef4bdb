# expect: rejected at execution: nontrivial
"""Remainder by three: what is left when a long number is divided by 3.

The numbers vary a lot, but there are only three possible answers (0, 1 or 2), so a model can
guess right a third of the time and the task teaches little.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class RemainderByThree(Environment):
    """Find the remainder when a long whole number is divided by 3 (the digit-sum rule helps).
    The answer is 0, 1 or 2. Harder levels use longer numbers."""

    name = "remainder_by_three"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "digits": IntParam(4, 80, description="decimal digits of the number"),
    }

    def generate(self, rng: random.Random, digits: int) -> dict:
        number = str(rng.randint(1, 9)) + "".join(str(rng.randrange(10)) for _ in range(digits - 1))
        return {"number": number, "remainder": int(number) % 3}

    def prompt(self, state: dict) -> str:
        return f"What is the remainder when {state['number']} is divided by 3?\n" + answer_instruction("1")

    def reference(self, state: dict) -> str:
        return str(state["remainder"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["remainder"]:
            return Score(0.0, f"{value} is not the remainder")
        return Score(1.0, "correct remainder")

    def complexity(self, state: dict) -> float:
        return float(len(state["number"]))
