# expect: rejected at execution: contains the reference
"""Caesar cipher: recover a message whose letters were shifted around the alphabet.

The prompt gives the ciphertext and says how far the letters were shifted. Bug: the example in
the answer instruction is built from the reference, so every prompt shows its own answer.
"""

from __future__ import annotations

import random
import re
import string

from envfoundry.core import Environment, IntParam, Score, answer_instruction

LETTERS = string.ascii_uppercase
_WORD_RE = re.compile(r"[A-Z]+")


def shift(text: str, by: int) -> str:
    return "".join(LETTERS[(LETTERS.index(ch) + by) % 26] for ch in text)


class CaesarDecode(Environment):
    """Decode a message written with a Caesar cipher: every letter of the original was replaced
    by the letter a fixed number of places later in the alphabet (wrapping from Z to A). The answer
    is the original message in capital letters. Harder levels use longer messages."""

    name = "caesar_decode"
    asymmetry = "algorithmic"
    family = "ciphers"
    version = 1
    space = {
        "length": IntParam(8, 60, description="letters in the message"),
    }

    def generate(self, rng: random.Random, length: int) -> dict:
        plain = "".join(rng.choice(LETTERS) for _ in range(length))
        key = rng.randint(1, 25)
        return {"plain": plain, "key": key, "cipher": shift(plain, key)}

    def prompt(self, state: dict) -> str:
        return (
            f"The message {state['cipher']} was encrypted by moving every letter {state['key']} places "
            "forward in the alphabet, wrapping around from Z to A. What was the original message? Answer in "
            "capital letters.\n" + answer_instruction(self.reference(state))
        )

    def reference(self, state: dict) -> str:
        return state["plain"]

    def verify(self, state: dict, answer: str) -> Score:
        text = answer.strip().upper()
        if not _WORD_RE.fullmatch(text):
            return Score(0.0, "answer must be letters only")
        if text != state["plain"]:
            return Score(0.0, "not the original message")
        return Score(1.0, "decoded")

    def complexity(self, state: dict) -> float:
        return float(len(state["plain"]))
