# expect: rejected at static: imports 'os'
"""Rotation distance: by how many places was a string rotated to the left?

A random string (with no period shorter than itself, so the shift is unique) is rotated left by
a random amount; ``verify`` compares the submitted shift with the planted one.
Disallowed: the prompt joins its lines with ``os.linesep``, and environments may not import
``os`` (the static check rejects it, however harmless the use).
"""

from __future__ import annotations

import math
import os
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class RotationDistance(Environment):
    """A string was rotated to the left by k places (its first k characters moved, in order, to
    the end). Given the original and the rotated string, find k, with 0 < k < length. Harder levels
    use longer strings over more letters."""

    name = "rotation_distance"
    asymmetry = "algorithmic"
    family = "strings"
    version = 1
    space = {
        "length": IntParam(6, 90, description="characters in the string"),
        "letters": IntParam(2, 6, description="size of the alphabet"),
    }

    def generate(self, rng: random.Random, length: int, letters: int) -> dict:
        alphabet = "abcdef"[:letters]
        while True:
            text = "".join(rng.choice(alphabet) for _ in range(length))
            # Aperiodic strings only: then exactly one k in [1, length) gives the rotated string.
            if text not in (text + text)[1:-1]:
                break
        shift = rng.randint(1, length - 1)
        return {"original": text, "rotated": text[shift:] + text[:shift], "shift": shift}

    def prompt(self, state: dict) -> str:
        lines = os.linesep.join(
            [
                f"Original: {state['original']}",
                f"Rotated:  {state['rotated']}",
                "The rotated string is the original with its first k characters moved, in order, to the end "
                f"(0 < k < {len(state['original'])}). What is k?",
                "",
            ]
        )
        return lines + answer_instruction("3")

    def reference(self, state: dict) -> str:
        return str(state["shift"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["shift"]:
            return Score(0.0, f"rotating by {value} does not give the rotated string")
        return Score(1.0, "correct shift")

    def complexity(self, state: dict) -> float:
        return len(state["original"]) * math.log2(len(set(state["original"])) + 1)
