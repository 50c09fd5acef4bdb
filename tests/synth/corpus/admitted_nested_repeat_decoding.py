# expect: admitted
"""Nested repeat decoding: expand a string written with repeat groups such as 3[AB]2[C2[D]].

``k[...]`` means the bracketed part written k times, and groups nest. The expansion comes from a
stack-based parser; ``verify`` compares the submitted expansion (whitespace ignored, any case)
with it exactly.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction

LETTERS = "ABCDEFGH"


def expand(code: str) -> str:
    """Expand ``code`` (letters, digits and brackets) with a stack of open groups."""
    stack: list[tuple[str, int]] = []
    current, count = "", 0
    for ch in code:
        if ch.isdigit():
            count = count * 10 + int(ch)
        elif ch == "[":
            stack.append((current, count))
            current, count = "", 0
        elif ch == "]":
            before, times = stack.pop()
            current = before + current * times
        else:
            current += ch
    return current


def build(rng: random.Random, depth: int, max_repeat: int, width: int, letters: str, budget: int) -> tuple[str, int]:
    """A random code with groups nested at most ``depth`` deep whose expansion has at most
    ``budget`` letters; returns the code and the length of its expansion."""
    parts: list[str] = []
    total = 0
    for _ in range(rng.randint(1, width)):
        room = budget - total
        if room < 1:
            break
        if depth > 0 and room >= 4 and rng.random() < 0.6:
            times = rng.randint(2, min(max_repeat, room // 2))
            inner, length = build(rng, depth - 1, max_repeat, width, letters, room // times)
            parts.append(f"{times}[{inner}]")
            total += times * length
        else:
            run = rng.randint(1, min(3, room))
            parts.append("".join(rng.choice(letters) for _ in range(run)))
            total += run
    return "".join(parts), total


class NestedRepeatDecoding(Environment):
    """Expand a string written with (possibly nested) repeat groups: k[X] stands for X written k
    times in a row, e.g. 3[AB] is ABABAB and 2[C2[D]] is CDDCDD. The answer is the fully expanded
    string of capital letters. Harder levels nest deeper, repeat more, use more letters and expand to longer strings."""

    name = "nested_repeat_decoding"
    asymmetry = "algorithmic"
    family = "strings"
    version = 1
    space = {
        "depth": IntParam(1, 4, description="how deeply repeat groups may nest"),
        "max_repeat": IntParam(2, 6, description="repeat counts are drawn from [2, max_repeat]"),
        "width": IntParam(2, 4, description="at most this many pieces side by side at each level"),
        "letters": IntParam(2, 8, description="how many different letters occur"),
        "max_length": IntParam(12, 200, description="the expansion has between half this and this many letters"),
    }

    def generate(
        self, rng: random.Random, depth: int, max_repeat: int, width: int, letters: int, max_length: int
    ) -> dict:
        alphabet = LETTERS[:letters]
        while True:
            code, length = build(rng, depth, max_repeat, width, alphabet, max_length)
            if "[" not in code or 2 * length < max_length:
                continue  # at least one repeat group, and an expansion of at least half the budget
            expansion = expand(code)
            state = {"code": code, "expansion": expansion}
            # A long expansion must never appear verbatim in the prompt.
            if len(expansion) >= 6 and expansion in "".join(self.prompt(state).split()).upper():
                continue
            return state

    def prompt(self, state: dict) -> str:
        return (
            "In the code below, k[X] means X written k times in a row, and groups may nest: for example "
            "3[AB] stands for ABABAB and 2[C2[D]] stands for CDDCDD.\n\n"
            f"Code: {state['code']}\n\n"
            "Write out the fully expanded string (capital letters only, no brackets or digits).\n"
            + answer_instruction("EFEFG")
        )

    def reference(self, state: dict) -> str:
        return state["expansion"]

    def verify(self, state: dict, answer: str) -> Score:
        text = "".join(answer.split()).upper()
        if not text or not text.isalpha() or not text.isascii():
            return Score(0.0, "answer must be letters only")
        if text != state["expansion"]:
            return Score(0.0, "not the expansion of the code")
        return Score(1.0, "correct expansion")

    def complexity(self, state: dict) -> float:
        # What there is to read plus what there is to write out.
        return float(len(state["code"]) + len(state["expansion"]))
