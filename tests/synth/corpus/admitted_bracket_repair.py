# expect: admitted
"""Bracket repair: the fewest brackets to insert so that a string of brackets becomes balanced.

The optimum comes from an interval dynamic programme over substrings (the first bracket either
gets an inserted partner or is matched with a later closing bracket of its kind), O(n^3) on at
most 40 brackets. ``verify`` compares the submitted count with the optimum exactly.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import ChoiceParam, Environment, IntParam, Score, answer_instruction, parse_int

PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}
OPENERS = "([{<"


def fewest_insertions(text: str) -> int:
    """Fewest brackets to insert anywhere in ``text`` to make it balanced."""
    n = len(text)
    # best[i][j]: fewest insertions that balance text[i:j]; best[i][i] = 0.
    best = [[0] * (n + 1) for _ in range(n + 1)]
    for length in range(1, n + 1):
        for i in range(n - length + 1):
            j = i + length
            cost = 1 + best[i + 1][j]  # give text[i] an inserted partner
            partner = PAIRS.get(text[i])
            if partner is not None:
                row = best[i + 1]
                for k in range(i + 1, j):
                    if text[k] == partner:
                        candidate = row[k] + best[k + 1][j]
                        if candidate < cost:
                            cost = candidate
            best[i][j] = cost
    return best[0][n]


def balanced(rng: random.Random, pairs: int, kinds: int) -> list[str]:
    """A random balanced string of ``pairs`` bracket pairs over the first ``kinds`` bracket kinds."""
    out: list[str] = []
    stack: list[str] = []
    opened = 0
    while opened < pairs or stack:
        if opened < pairs and (not stack or rng.random() < 0.55):
            opener = OPENERS[rng.randrange(kinds)]
            out.append(opener)
            stack.append(PAIRS[opener])
            opened += 1
        else:
            out.append(stack.pop())
    return out


class BracketRepair(Environment):
    """Given a string of brackets of one to four kinds, find the fewest brackets that must be
    inserted (anywhere) to make it balanced: every bracket closed by one of its own kind, properly
    nested. The answer is that number. Harder levels use longer strings, more bracket kinds and
    more damage to an initially balanced string."""

    name = "bracket_repair"
    asymmetry = "algorithmic"
    family = "strings"
    version = 1
    space = {
        "pairs": IntParam(3, 20, description="bracket pairs in the balanced string before damage"),
        "kinds": ChoiceParam([1, 2, 3, 4], description="how many kinds of bracket occur"),
        "damage": IntParam(2, 24, description="at most this many random insertions or replacements break the balance"),
    }

    def generate(self, rng: random.Random, pairs: int, kinds: int, damage: int) -> dict:
        symbols = [ch for opener in OPENERS[:kinds] for ch in (opener, PAIRS[opener])]
        text = balanced(rng, pairs, kinds)
        for _ in range(rng.randint(1, damage)):
            if rng.random() < 0.5:
                text.insert(rng.randrange(len(text) + 1), rng.choice(symbols))
            else:
                text[rng.randrange(len(text))] = rng.choice(symbols)
        text = "".join(text)
        return {"text": text, "kinds": kinds, "insertions": fewest_insertions(text)}

    def prompt(self, state: dict) -> str:
        kinds = " ".join(opener + PAIRS[opener] for opener in OPENERS[: state["kinds"]])
        return (
            f"Here is a string of {len(state['text'])} brackets (kinds: {kinds}):\n\n{state['text']}\n\n"
            "A string is balanced when every opening bracket is closed later by a bracket of the same "
            "kind and pairs nest properly, e.g. ([]) is balanced but ([)] is not. You may insert brackets "
            "anywhere (but not delete or change any). What is the smallest number of brackets you must "
            "insert to make the string balanced?\n" + answer_instruction("3")
        )

    def reference(self, state: dict) -> str:
        return str(state["insertions"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["insertions"]:
            return Score(0.0, f"{value} is not the fewest insertions")
        return Score(1.0, "the fewest insertions")

    def complexity(self, state: dict) -> float:
        return len(state["text"]) * math.log2(2 * state["kinds"] + 1)
