# expect: rejected at static: verify
"""Collatz steps: how many steps the 3n + 1 rule takes to bring a number down to 1.

The count comes from following the rule directly (a few hundred steps at most for these sizes);
``verify`` was meant to compare the submitted count with it, but the method is named ``check``,
so the class has no ``verify`` at all.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


class CollatzSteps(Environment):
    """Starting from a whole number n, repeatedly halve it when it is even and replace it with
    3n + 1 when it is odd. The answer is the number of steps until it first reaches 1. Harder
    levels start from larger numbers."""

    name = "collatz_steps"
    asymmetry = "algorithmic"
    family = "simulation"
    version = 1
    space = {
        "max_start": IntParam(20, 10**9, scale="log", description="n is drawn from [max_start / 2, max_start]"),
    }

    def generate(self, rng: random.Random, max_start: int) -> dict:
        start = rng.randint(max_start // 2, max_start)
        return {"start": start, "steps": collatz_steps(start)}

    def prompt(self, state: dict) -> str:
        return (
            f"Start from n = {state['start']}. At each step, if n is even replace it with n / 2, otherwise "
            "replace it with 3n + 1. How many steps does it take until n equals 1 for the first time?\n"
            + answer_instruction("25")
        )

    def reference(self, state: dict) -> str:
        return str(state["steps"])

    def check(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["steps"]:
            return Score(0.0, f"{value} is not the number of steps")
        return Score(1.0, "correct count")

    def complexity(self, state: dict) -> float:
        return math.log2(state["start"])
