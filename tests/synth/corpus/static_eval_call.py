# expect: rejected at static: eval
"""Bitwise expressions: the value of an expression built from &, |, ^ and shifts.

A random expression tree over small non-negative integers is printed with full parentheses.
Disallowed: the value is computed with ``eval()`` on the expression text (the expression is the
environment's own, but the static check rejects every call to eval).
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int

OPERATORS = ["&", "|", "^", "<<", ">>"]


def build(rng: random.Random, depth: int, max_value: int) -> str:
    """A fully parenthesised expression with ``depth`` levels of operators."""
    if depth == 0:
        return str(rng.randint(0, max_value))
    op = rng.choice(OPERATORS)
    if op in ("<<", ">>"):
        return f"({build(rng, depth - 1, max_value)} {op} {rng.randint(1, 4)})"
    return f"({build(rng, depth - 1, max_value)} {op} {build(rng, depth - 1, max_value)})"


class BitwiseExpression(Environment):
    """Evaluate an expression over non-negative integers with the bitwise operators & (and),
    | (or), ^ (exclusive or), << (shift left) and >> (shift right). The answer is its value as an
    ordinary decimal number. Harder levels nest deeper and use larger numbers."""

    name = "bitwise_expression"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "depth": IntParam(1, 4, description="levels of nested operators"),
        "max_value": IntParam(15, 4095, scale="log", description="literals are drawn from [0, max_value]"),
    }

    def generate(self, rng: random.Random, depth: int, max_value: int) -> dict:
        while True:
            expression = build(rng, depth, max_value)
            value = eval(expression)
            if value > 0:
                return {"expression": expression, "value": value}

    def prompt(self, state: dict) -> str:
        return (
            f"Evaluate this expression over non-negative integers, where & is bitwise and, | is bitwise or, "
            f"^ is bitwise exclusive or, and << and >> shift left and right by the given number of bits:\n\n"
            f"{state['expression']}\n\nGive the value as a decimal number.\n" + answer_instruction("37")
        )

    def reference(self, state: dict) -> str:
        return str(state["value"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["value"]:
            return Score(0.0, f"{value} is not the value of the expression")
        return Score(1.0, "correct value")

    def complexity(self, state: dict) -> float:
        operators = sum(state["expression"].count(op) for op in ("&", "|", "^", "<<", ">>"))
        return operators * math.log2(state["value"] + 2)
