# expect: admitted
"""Josephus elimination: people stand in a circle and every k-th one leaves; who is left last?

Counting starts at a given person and may run clockwise or counter-clockwise. The survivor comes
from a direct simulation over a list (n is at most 300); ``verify`` compares the submitted
person's number with it.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import ChoiceParam, Environment, IntParam, Score, answer_instruction, parse_int


def survivor(people: int, step: int, start: int, clockwise: bool) -> int:
    """The number (1-based) of the last person left; counting starts at person ``start``."""
    circle = list(range(1, people + 1))
    if not clockwise:
        # Counter-clockwise from ``start`` is clockwise over the reversed circle.
        circle.reverse()
    index = circle.index(start)
    while len(circle) > 1:
        index = (index + step - 1) % len(circle)
        circle.pop(index)
        index %= len(circle)
    return circle[0]


class JosephusSurvivor(Environment):
    """People numbered 1 to n stand in a circle (numbers increase clockwise). Starting with a
    given person, who counts as 1, they count around the circle in a given direction; whoever is
    counted k leaves, and counting restarts at 1 with the next person still in the circle. The
    answer is the number of the last person left. Harder levels use more people, longer counts and
    both directions."""

    name = "josephus_survivor"
    asymmetry = "algorithmic"
    family = "simulation"
    version = 1
    space = {
        "max_people": IntParam(6, 300, scale="log", description="the circle holds between half this and this many"),
        "max_step": IntParam(2, 40, scale="log", description="the count k is drawn from [2, max_step]"),
        "directions": ChoiceParam(["clockwise", "either"], description="whether counting may run counter-clockwise"),
    }

    def generate(self, rng: random.Random, max_people: int, max_step: int, directions: str) -> dict:
        people = rng.randint(max(3, max_people // 2), max_people)
        step = rng.randint(2, max_step)
        start = rng.randint(1, people)
        clockwise = directions == "clockwise" or rng.random() < 0.5
        return {
            "people": people,
            "step": step,
            "start": start,
            "clockwise": clockwise,
            "survivor": survivor(people, step, start, clockwise),
        }

    def prompt(self, state: dict) -> str:
        direction = "clockwise" if state["clockwise"] else "counter-clockwise"
        return (
            f"{state['people']} people, numbered 1 to {state['people']} in clockwise order, stand in a circle. "
            f"Person {state['start']} says 1, and counting goes on {direction} around the circle: each person "
            f"still in the circle says the next number. Whoever says {state['step']} leaves the circle, and the "
            f"next person still in the circle ({direction}) starts again at 1. This repeats until one person is "
            "left. What is that person's number?\n" + answer_instruction("17")
        )

    def reference(self, state: dict) -> str:
        return str(state["survivor"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single person's number")
        if value != state["survivor"]:
            return Score(0.0, f"person {value} is not the last one left")
        return Score(1.0, "the survivor")

    def complexity(self, state: dict) -> float:
        # Eliminations times the counting per elimination.
        return state["people"] * math.log2(state["step"] + 1)
