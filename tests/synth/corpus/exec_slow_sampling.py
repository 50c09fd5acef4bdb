# expect: rejected at execution: sampling time
"""Digit-sum counting: how many numbers from 1 to N have a digit sum divisible by d.

The count is computed by brute force, one number at a time. That is instant at low levels but
takes about 100 milliseconds per instance at level 1 (N up to 600,000) on a fast machine and
twice that on a slow one: still well inside the 2-second limit per call, but over the 50 ms
sampling budget on any machine. (Up to 300,000 took 53 ms on a fast machine: too close to call.)
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def count_by_brute_force(limit: int, divisor: int) -> int:
    """Numbers in [1, limit] whose decimal digit sum is divisible by ``divisor``."""
    count = 0
    for number in range(1, limit + 1):
        total = 0
        while number:
            number, digit = divmod(number, 10)
            total += digit
        if total % divisor == 0:
            count += 1
    return count


class DigitSumCount(Environment):
    """Count the whole numbers from 1 to N (inclusive) whose decimal digits add up to a multiple
    of d. The answer is that count. Harder levels use larger N and d."""

    name = "digit_sum_count"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "max_limit": IntParam(50, 600_000, scale="log", description="N is drawn from [max_limit / 2, max_limit]"),
        "max_divisor": IntParam(3, 13, description="d is drawn from [2, max_divisor]"),
    }

    def generate(self, rng: random.Random, max_limit: int, max_divisor: int) -> dict:
        limit = rng.randint(max_limit // 2, max_limit)
        divisor = rng.randint(2, max_divisor)
        return {"limit": limit, "divisor": divisor, "count": count_by_brute_force(limit, divisor)}

    def prompt(self, state: dict) -> str:
        return (
            f"How many whole numbers from 1 to {state['limit']} (inclusive) have a digit sum that is "
            f"divisible by {state['divisor']}? (The digit sum of 1234 is 1 + 2 + 3 + 4 = 10.)\n"
            + answer_instruction("345")
        )

    def reference(self, state: dict) -> str:
        return str(state["count"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["count"]:
            return Score(0.0, f"{value} is not the count")
        return Score(1.0, "correct count")

    def complexity(self, state: dict) -> float:
        # Numbers to check, in decimal digits.
        return math.log10(state["limit"]) + math.log10(state["divisor"])
