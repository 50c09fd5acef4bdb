# expect: rejected at static: name
"""Lattice paths: how many shortest routes run along a grid of streets from one corner to the other.

Every shortest route is a sequence of right and up moves, so the count is a binomial coefficient,
computed exactly with ``math.comb``; ``verify`` compares the submitted count with it.
Bug: the class never sets ``name``, so it has no registry name (it inherits the empty string).
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int


class LatticePaths(Environment):
    """A city is a grid of streets, w blocks wide and h blocks tall. Count the shortest routes
    along the streets from the south-west corner to the north-east corner (each route is w moves
    east and h moves north, in some order). The answer is that count. Harder levels use larger
    grids."""

    asymmetry = "algorithmic"
    family = "combinatorics"
    version = 1
    space = {
        "max_side": IntParam(3, 40, description="width and height are drawn from [max_side / 2, max_side]"),
    }

    def generate(self, rng: random.Random, max_side: int) -> dict:
        width = rng.randint(max(2, max_side // 2), max_side)
        height = rng.randint(max(2, max_side // 2), max_side)
        return {"width": width, "height": height, "routes": math.comb(width + height, width)}

    def prompt(self, state: dict) -> str:
        return (
            f"A city's streets form a grid {state['width']} blocks wide (east-west) and {state['height']} blocks "
            "tall (north-south). How many different shortest routes along the streets lead from the "
            "south-west corner to the north-east corner?\n" + answer_instruction("126")
        )

    def reference(self, state: dict) -> str:
        return str(state["routes"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["routes"]:
            return Score(0.0, f"{value} is not the number of shortest routes")
        return Score(1.0, "correct count")

    def complexity(self, state: dict) -> float:
        return float(state["width"] + state["height"])
