# expect: rejected at execution: shotgun
"""Long multiplication: the exact product of two multi-digit numbers.

Bug: the verifier accepts any answer in which the product's digits appear somewhere, so an answer
that lists many candidate products (a shotgun) earns full reward.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction


class LongMultiplication(Environment):
    """Multiply two whole numbers exactly. The answer is the product, written out in full.
    Harder levels use more digits in each factor."""

    name = "long_multiplication"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "digits_a": IntParam(2, 12, description="decimal digits of the first factor"),
        "digits_b": IntParam(2, 9, description="decimal digits of the second factor"),
    }

    def generate(self, rng: random.Random, digits_a: int, digits_b: int) -> dict:
        a = rng.randint(10 ** (digits_a - 1), 10**digits_a - 1)
        b = rng.randint(10 ** (digits_b - 1), 10**digits_b - 1)
        return {"a": a, "b": b, "product": a * b}

    def prompt(self, state: dict) -> str:
        return f"Compute {state['a']} x {state['b']} exactly.\n" + answer_instruction("56088")

    def reference(self, state: dict) -> str:
        return str(state["product"])

    def verify(self, state: dict, answer: str) -> Score:
        # Bug: a substring test, so the product anywhere in a longer answer passes.
        if str(state["product"]) in answer:
            return Score(1.0, "product found")
        return Score(0.0, "wrong product")

    def complexity(self, state: dict) -> float:
        return float(len(str(state["a"])) * len(str(state["b"])))
