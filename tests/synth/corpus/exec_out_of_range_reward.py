# expect: rejected at execution: outside [0, 1]
"""Divisor sum: the sum of all positive divisors of n, sigma(n).

The sum comes from trial division up to the square root. Bug: the verifier gives an exactly
right answer a "bonus" reward of 1.5, outside [0, 1], so the core turns it into reward 0 and
even the reference fails to score 1.0.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def divisor_sum(n: int) -> int:
    """Sum of the positive divisors of ``n`` (n >= 1), by trial division up to sqrt(n)."""
    total = 0
    d = 1
    while d * d <= n:
        if n % d == 0:
            total += d
            if d * d != n:
                total += n // d
        d += 1
    return total


class DivisorSum(Environment):
    """Find the sum of all positive divisors of a whole number n, n itself and 1 included (for
    example, the divisors of 12 are 1, 2, 3, 4, 6 and 12, which sum to 28). The answer is that sum.
    An answer within 1% earns 0.5. Harder levels use larger n."""

    name = "divisor_sum"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "max_n": IntParam(30, 10**8, scale="log", description="n is drawn from [max_n / 2, max_n]"),
    }

    def generate(self, rng: random.Random, max_n: int) -> dict:
        n = rng.randint(max(2, max_n // 2), max_n)
        return {"n": n, "sigma": divisor_sum(n)}

    def prompt(self, state: dict) -> str:
        return (
            f"What is the sum of all positive divisors of {state['n']} (including 1 and "
            f"{state['n']} itself)?\n" + answer_instruction("28")
        )

    def reference(self, state: dict) -> str:
        return str(state["sigma"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value == state["sigma"]:
            # Bug: a "bonus" for the exact answer, above the maximum reward of 1.
            return Score(1.5, "exact")
        if abs(value - state["sigma"]) <= 0.01 * state["sigma"]:
            return Score(0.5, "within 1%")
        return Score(0.0, f"{value} is not the divisor sum")

    def complexity(self, state: dict) -> float:
        return math.log10(state["n"])
