# expect: admitted
"""Word ladder on a made-up dictionary: turn one word into another, one letter at a time.

Words are strings over a small alphabet; every intermediate word must be in the given
dictionary. A ladder is planted by a random walk (so one always exists) and the shortest length
comes from breadth-first search. ``verify`` checks the submitted ladder itself, so *any* shortest
ladder earns full reward.
"""

from __future__ import annotations

import math
import random
from collections import deque

from envfoundry.core import Environment, IntParam, Score, answer_instruction, split_tokens

ALPHABET = "abcdefgh"
# A valid but longer ladder earns at most this much, scaled by how close it is to the shortest.
PARTIAL_CAP = 0.5


def neighbours(word: str, letters: str, words: set[str]) -> list[str]:
    """Words of ``words`` that differ from ``word`` in exactly one position, in sorted order."""
    out = []
    for i, old in enumerate(word):
        for ch in letters:
            if ch != old:
                candidate = word[:i] + ch + word[i + 1 :]
                if candidate in words:
                    out.append(candidate)
    return sorted(out)


def shortest_ladder(start: str, goal: str, letters: str, words: set[str]) -> list[str]:
    """A shortest ladder from ``start`` to ``goal`` by breadth-first search (both in ``words``)."""
    parent = {start: ""}
    queue = deque([start])
    while queue:
        word = queue.popleft()
        if word == goal:
            break
        for nxt in neighbours(word, letters, words):
            if nxt not in parent:
                parent[nxt] = word
                queue.append(nxt)
    path = [goal]
    while parent[path[-1]]:
        path.append(parent[path[-1]])
    return path[::-1]


class WordLadder(Environment):
    """Turn a start word into a goal word by changing exactly one letter at a time, where every
    word along the way must be in the given dictionary. The answer is the whole ladder, start and
    goal included, with the words separated by spaces. Any shortest ladder earns 1.0; a valid
    longer one earns 0.5 * shortest / length; a broken ladder earns 0. Harder levels use longer
    words, more letters, larger dictionaries and longer ladders."""

    name = "word_ladder"
    asymmetry = "algorithmic"
    family = "search"
    version = 1
    space = {
        "word_length": IntParam(3, 6, description="letters per word"),
        "letters": IntParam(3, 8, description="size of the alphabet the words are made of"),
        "walk": IntParam(3, 14, description="steps of the planted random walk from start to goal"),
        "fillers": IntParam(4, 120, scale="log", description="random extra words in the dictionary"),
    }

    def generate(self, rng: random.Random, word_length: int, letters: int, walk: int, fillers: int) -> dict:
        alphabet = ALPHABET[:letters]
        while True:
            word = "".join(rng.choice(alphabet) for _ in range(word_length))
            path = [word]
            for _ in range(walk):
                i = rng.randrange(word_length)
                word = word[:i] + rng.choice(alphabet.replace(word[i], "")) + word[i + 1 :]
                if word not in path:
                    path.append(word)
            words = set(path)
            for _ in range(fillers):
                words.add("".join(rng.choice(alphabet) for _ in range(word_length)))
            start, goal = path[0], path[-1]
            ladder = shortest_ladder(start, goal, alphabet, words)
            if len(ladder) >= 3:
                return {
                    "letters": alphabet,
                    "words": sorted(words),
                    "start": start,
                    "goal": goal,
                    "ladder": ladder,
                }

    def prompt(self, state: dict) -> str:
        dictionary = ", ".join(state["words"])
        return (
            f"Dictionary ({len(state['words'])} words over the letters {', '.join(state['letters'])}):\n"
            f"{dictionary}\n\n"
            f"Turn {state['start']} into {state['goal']} by changing exactly one letter at a time (letters keep "
            "their positions; none are added or removed). Every word along the way must be in the dictionary. "
            "Use as few changes as possible. Answer with the whole ladder, from the start word to the goal "
            "word, separated by spaces.\n" + answer_instruction("cab cbb dbb")
        )

    def reference(self, state: dict) -> str:
        return " ".join(state["ladder"])

    def verify(self, state: dict, answer: str) -> Score:
        ladder = [token.lower() for token in split_tokens(answer.strip().rstrip("."))]
        if len(ladder) < 2:
            return Score(0.0, "answer must be at least the start and the goal word")
        if ladder[0] != state["start"] or ladder[-1] != state["goal"]:
            return Score(0.0, f"the ladder must run from {state['start']} to {state['goal']}")
        words = set(state["words"])
        for word in ladder:
            if word not in words:
                return Score(0.0, f"{word!r} is not in the dictionary")
        for a, b in zip(ladder, ladder[1:], strict=False):
            if sum(x != y for x, y in zip(a, b, strict=True)) != 1:
                return Score(0.0, f"{a} -> {b} does not change exactly one letter")
        shortest = len(state["ladder"]) - 1
        steps = len(ladder) - 1
        if steps == shortest:
            return Score(1.0, f"a shortest ladder ({steps} changes)")
        return Score(PARTIAL_CAP * shortest / steps, f"a valid ladder of {steps} changes, but {shortest} suffice")

    def complexity(self, state: dict) -> float:
        # Dictionary size times the bits of one word.
        word_bits = len(state["start"]) * math.log2(len(state["letters"]))
        return len(state["words"]) * word_bits
