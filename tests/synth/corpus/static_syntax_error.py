# expect: rejected at static: syntax error
"""Greatest common divisor of a list: the largest whole number that divides every listed number.

The numbers are built as a hidden common factor times random cofactors, and the answer comes
from ``math.gcd``; ``verify`` compares the submitted number with it.
Bug: the ``def prompt`` line lacks its closing colon, so the file does not parse.
"""

from __future__ import annotations

import math
import random
from functools import reduce

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class ListGcd(Environment):
    """Find the greatest common divisor of a list of whole numbers: the largest number that
    divides all of them exactly. The answer is that number. Harder levels use more and larger
    numbers."""

    name = "list_gcd"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "count": IntParam(2, 8, description="how many numbers are listed"),
        "max_factor": IntParam(20, 10**5, scale="log", description="the hidden common factor is at most this"),
        "max_cofactor": IntParam(10, 10**4, scale="log", description="each number is the factor times at most this"),
    }

    def generate(self, rng: random.Random, count: int, max_factor: int, max_cofactor: int) -> dict:
        factor = rng.randint(2, max_factor)
        numbers = [factor * rng.randint(2, max_cofactor) for _ in range(count)]
        return {"numbers": numbers, "gcd": reduce(math.gcd, numbers)}

    def prompt(self, state: dict) -> str
        numbers = ", ".join(map(str, state["numbers"]))
        return (
            f"What is the greatest common divisor of these numbers: {numbers}? (The largest whole number "
            "that divides each of them exactly.)\n" + answer_instruction("36")
        )

    def reference(self, state: dict) -> str:
        return str(state["gcd"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["gcd"]:
            return Score(0.0, f"{value} is not the greatest common divisor")
        return Score(1.0, "correct")

    def complexity(self, state: dict) -> float:
        return len(state["numbers"]) * math.log2(max(state["numbers"]))
