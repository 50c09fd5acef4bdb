"""Planted independent set: pick k people of whom no two are rivals.

The k planted people have no rivalry among them; ``verify`` checks the rivalries, so any k
pairwise non-rivals are right.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list


class PlantedIndependentSet(Environment):
    """People P1..Pn and the pairs of them who are rivals are listed. Pick exactly k people with
    no two of them rivals. Any such k people earn 1.0."""

    name = "planted_independent_set"
    asymmetry = "planted"
    family = "graphs"
    space = {
        "people": IntParam(6, 60, description="people (vertices)"),
        "k": IntParam(3, 15, description="people to pick (the planted set's size)"),
        "density": FloatParam(0.3, 0.6, description="chance that two people outside the planted set are rivals"),
    }

    def generate(self, rng: random.Random, people: int, k: int, density: float) -> dict:
        k = min(k, people // 2)
        planted = sorted(rng.sample(range(1, people + 1), k))
        inside = set(planted)
        edges = [
            [a, b]
            for a in range(1, people + 1)
            for b in range(a + 1, people + 1)
            if not (a in inside and b in inside)
            and rng.random() < (density if a not in inside and b not in inside else 0.5)  # fmt: skip
        ]
        return {"people": people, "k": k, "edges": edges, "planted": planted}

    def prompt(self, state: dict) -> str:
        pairs = "; ".join(f"P{a}-P{b}" for a, b in state["edges"])
        return (
            f"There are {state['people']} people, P1 to P{state['people']}. These pairs are rivals: {pairs}.\n\n"
            f"Pick exactly {state['k']} people so that no two picked people are rivals. Answer with their "
            "numbers separated by spaces (4 for P4).\n" + answer_instruction("2 5 9")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["planted"]))

    def verify(self, state: dict, answer: str) -> Score:
        picked = parse_int_list(answer, negative=False, max_digits=4)
        if picked is None:
            return Score(0.0, "answer must be person numbers separated by spaces")
        if any(not 1 <= p <= state["people"] for p in picked) or len(set(picked)) != len(picked):
            return Score(0.0, "unknown or repeated person")
        if len(picked) != state["k"]:
            return Score(0.0, f"{len(picked)} people picked, not {state['k']}")
        chosen = set(picked)
        for a, b in state["edges"]:
            if a in chosen and b in chosen:
                return Score(0.0, f"P{a} and P{b} are rivals")
        return Score(1.0, "no two picked people are rivals")

    def complexity(self, state: dict) -> float:
        return math.log2(math.comb(state["people"], state["k"])) + len(state["edges"]) / 10
