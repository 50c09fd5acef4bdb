# expect: rejected at execution: reference of seed
"""Factorial trailing zeros: how many zeros end the decimal expansion of n!.

The verifier counts factors of 5 with Legendre's formula. The reference has an off-by-one bug:
it only counts multiples of 5 and of 25, so it is one (or more) short for every n >= 125.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def trailing_zeros(n: int) -> int:
    """Zeros at the end of n!: the number of factors 5 in 1 * 2 * ... * n (Legendre's formula)."""
    count, power = 0, 5
    while power <= n:
        count += n // power
        power *= 5
    return count


class FactorialTrailingZeros(Environment):
    """How many zeros are at the end of n! (n factorial, the product 1 * 2 * ... * n) written in
    decimal? The answer is that count. Harder levels use larger n."""

    name = "factorial_trailing_zeros"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "max_n": IntParam(30, 10**9, scale="log", description="n is drawn from [max_n / 2, max_n]"),
    }

    def generate(self, rng: random.Random, max_n: int) -> dict:
        return {"n": rng.randint(max_n // 2, max_n)}

    def prompt(self, state: dict) -> str:
        return (
            f"Let n = {state['n']}. How many zeros are at the end of n! (the product 1 * 2 * 3 * ... * n) "
            "when it is written out in decimal?\n" + answer_instruction("7")
        )

    def reference(self, state: dict) -> str:
        n = state["n"]
        # Bug: stops after the factors of 25 and forgets 125, 625, ...
        return str(n // 5 + n // 25)

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        expected = trailing_zeros(state["n"])
        if value != expected:
            return Score(0.0, f"{value} is not the number of trailing zeros")
        return Score(1.0, "correct count")

    def complexity(self, state: dict) -> float:
        return math.log10(state["n"])
