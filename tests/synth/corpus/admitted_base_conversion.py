# expect: admitted
"""Base conversion: rewrite a number given in one base (2 to 36) in another base.

Digits above 9 are the letters A to Z. The conversion goes through Python's exact integers;
``verify`` compares the submitted digits (case-insensitive, no leading zeros) with the result.
"""

from __future__ import annotations

import math
import random
import re

from envfoundry.core import Environment, IntParam, Score, answer_instruction

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ANSWER_RE = re.compile(r"[0-9A-Z]+")


def to_base(value: int, base: int) -> str:
    """``value`` (>= 0) written in ``base`` with digits 0-9A-Z."""
    if value == 0:
        return "0"
    out = []
    while value:
        value, digit = divmod(value, base)
        out.append(DIGITS[digit])
    return "".join(reversed(out))


class BaseConversion(Environment):
    """Convert a whole number written in one base into another base, each between 2 and 36
    (digits above 9 are the letters A, B, C, ...). The answer is the number's digits in the target
    base, without prefix or leading zeros; letters may be upper or lower case. Harder levels use
    larger numbers and larger, less familiar bases."""

    name = "base_conversion"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "bits": IntParam(8, 96, description="the number has exactly this many binary digits"),
        "max_base": IntParam(10, 36, description="both bases are drawn from [2, max_base]"),
    }

    def generate(self, rng: random.Random, bits: int, max_base: int) -> dict:
        while True:
            source_base = rng.randint(2, max_base)
            target_base = rng.randint(2, max_base)
            if source_base == target_base:
                continue
            value = rng.randint(2 ** (bits - 1), 2**bits - 1)
            number = to_base(value, source_base)
            converted = to_base(value, target_base)
            state = {"number": number, "source_base": source_base, "target_base": target_base, "converted": converted}
            # Never let a long answer appear verbatim among the prompt's digits.
            if len(converted) >= 6 and converted in "".join(self.prompt(state).split()):
                continue
            return state

    def prompt(self, state: dict) -> str:
        return (
            f"The number {state['number']} is written in base {state['source_base']}. Write the same number "
            f"in base {state['target_base']}. Digits above 9 are written as letters: A = 10, B = 11, "
            "..., Z = 35. Give only the digits, without a prefix or leading zeros.\n" + answer_instruction("1A07")
        )

    def reference(self, state: dict) -> str:
        return state["converted"]

    def verify(self, state: dict, answer: str) -> Score:
        text = answer.strip().rstrip(".").strip().upper()
        if not _ANSWER_RE.fullmatch(text):
            return Score(0.0, "answer must be digits 0-9 and letters A-Z only")
        if any(DIGITS.index(ch) >= state["target_base"] for ch in text):
            return Score(0.0, f"a digit is not valid in base {state['target_base']}")
        if text != state["converted"]:
            return Score(0.0, "not the same number")
        return Score(1.0, "correct conversion")

    def complexity(self, state: dict) -> float:
        # Bits of the number, plus the bits of a digit in each base.
        value = int(state["number"], state["source_base"])
        return value.bit_length() + math.log2(state["source_base"]) + math.log2(state["target_base"])
