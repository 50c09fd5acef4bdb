# expect: admitted
"""Modular exponentiation: the remainder of a large power, a^b mod m.

The exponent has up to 30 digits, so the power itself is far too large to write out; square and
multiply (Python's three-argument ``pow``) computes the remainder exactly. ``verify`` compares the
submitted integer with it.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


def digits_number(rng: random.Random, digits: int) -> int:
    """A uniformly random integer with exactly ``digits`` decimal digits."""
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


class ModularPower(Environment):
    """Compute a^b mod m, the remainder when the b-th power of a is divided by m, for whole
    numbers a, b and m. The answer is that remainder, a number from 0 to m - 1. Harder levels use
    more digits in the base, the exponent and the modulus."""

    name = "modular_power"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "base_digits": IntParam(1, 12, description="decimal digits of the base a"),
        "exponent_digits": IntParam(1, 30, description="decimal digits of the exponent b"),
        "modulus_digits": IntParam(2, 12, description="decimal digits of the modulus m"),
    }

    def generate(self, rng: random.Random, base_digits: int, exponent_digits: int, modulus_digits: int) -> dict:
        while True:
            base = digits_number(rng, base_digits)
            exponent = digits_number(rng, exponent_digits)
            modulus = digits_number(rng, modulus_digits)
            if base < 2 or exponent < 2:
                continue
            remainder = pow(base, exponent, modulus)
            # A remainder that equals a number in the prompt would give itself away.
            shown = f"{base} {exponent} {modulus}"
            if len(str(remainder)) >= 4 and str(remainder) in shown:
                continue
            return {"base": base, "exponent": exponent, "modulus": modulus, "remainder": remainder}

    def prompt(self, state: dict) -> str:
        return (
            f"Let a = {state['base']}, b = {state['exponent']} and m = {state['modulus']}.\n\n"
            "Compute a^b mod m: the remainder left when a raised to the power b is divided by m "
            f"(a whole number from 0 to {state['modulus'] - 1}).\n" + answer_instruction("1234")
        )

    def reference(self, state: dict) -> str:
        return str(state["remainder"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["remainder"]:
            return Score(0.0, f"{value} is not a^b mod m")
        return Score(1.0, "the correct remainder")

    def complexity(self, state: dict) -> float:
        # Square-and-multiply steps times the size of the numbers being multiplied.
        return math.log2(state["exponent"]) * math.log2(state["modulus"])
