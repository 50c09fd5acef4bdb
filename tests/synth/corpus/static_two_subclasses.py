# expect: rejected at static: subclass
"""Roman numerals, both ways: read a Roman numeral as a number, or write a number as one.

Bug for a single environment file: the two directions are written as two separate
``Environment`` subclasses in one module, and a module must define exactly one.
"""

from __future__ import annotations

import math
import random
import re

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int

SYMBOLS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]  # fmt: skip
_ROMAN_RE = re.compile(r"[IVXLCDM]+")


def to_roman(value: int) -> str:
    out = []
    for amount, symbol in SYMBOLS:
        count, value = divmod(value, amount)
        out.append(symbol * count)
    return "".join(out)


class RomanToNumber(Environment):
    """Read a Roman numeral (standard subtractive form, 1 to 3999) and give its value as an
    ordinary number. Harder levels use larger values."""

    name = "roman_to_number"
    asymmetry = "algorithmic"
    family = "notation"
    version = 1
    space = {"max_value": IntParam(20, 3999, scale="log", description="values are drawn from [1, max_value]")}

    def generate(self, rng: random.Random, max_value: int) -> dict:
        value = rng.randint(max(1, max_value // 4), max_value)
        return {"value": value, "roman": to_roman(value)}

    def prompt(self, state: dict) -> str:
        return f"What number does the Roman numeral {state['roman']} stand for?\n" + answer_instruction("1994")

    def reference(self, state: dict) -> str:
        return str(state["value"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        return Score(float(value == state["value"]), "correct" if value == state["value"] else "wrong value")

    def complexity(self, state: dict) -> float:
        return len(state["roman"]) * math.log2(state["value"] + 1)


class NumberToRoman(Environment):
    """Write a number from 1 to 3999 as a Roman numeral in standard subtractive form (IV, not
    IIII). Harder levels use larger values."""

    name = "number_to_roman"
    asymmetry = "algorithmic"
    family = "notation"
    version = 1
    space = {"max_value": IntParam(20, 3999, scale="log", description="values are drawn from [1, max_value]")}

    def generate(self, rng: random.Random, max_value: int) -> dict:
        value = rng.randint(max(1, max_value // 4), max_value)
        return {"value": value, "roman": to_roman(value)}

    def prompt(self, state: dict) -> str:
        return (
            f"Write {state['value']} as a Roman numeral in standard form (subtractive pairs such as IV and CM).\n"
            + answer_instruction("MCMXCIV")
        )

    def reference(self, state: dict) -> str:
        return state["roman"]

    def verify(self, state: dict, answer: str) -> Score:
        text = answer.strip().upper()
        if not _ROMAN_RE.fullmatch(text):
            return Score(0.0, "answer must be a Roman numeral")
        return Score(float(text == state["roman"]), "correct" if text == state["roman"] else "wrong numeral")

    def complexity(self, state: dict) -> float:
        return len(state["roman"]) * math.log2(state["value"] + 1)
