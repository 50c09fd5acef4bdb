"""Planted set cover: choose at most k of the listed groups so that every member is in one of them.

The k planted groups cover everyone, so an answer exists; ``verify`` checks the constraints, so
*any* cover of at most k groups is right. This is the environment issue 13 reports: swapping one
group of the planted cover for another often gives another cover, which the old perturbation
probe took for a lenient verifier.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int_list


class PlantedSetCover(Environment):
    """Members 1..m and n numbered groups of members are listed. Choose at most k groups so that
    every member belongs to at least one chosen group. Any such choice earns 1.0."""

    name = "planted_set_cover"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "members": IntParam(6, 60, description="members to cover"),
        "groups": IntParam(5, 40, description="groups listed"),
        "k": IntParam(2, 8, description="at most this many groups may be chosen (the planted cover's size)"),
    }

    def generate(self, rng: random.Random, members: int, groups: int, k: int) -> dict:
        k = min(k, groups - 1, members)
        cover: list[set[int]] = [set() for _ in range(k)]
        for member in range(1, members + 1):  # every member in one planted group, some in two
            cover[rng.randrange(k)].add(member)
            if rng.random() < 0.2:
                cover[rng.randrange(k)].add(member)
        for group in cover:  # no planted group is empty
            if not group:
                group.add(rng.randint(1, members))
        size = max(2, members // k)
        decoys = [set(rng.sample(range(1, members + 1), rng.randint(1, size))) for _ in range(groups - k)]
        listed = [sorted(g) for g in cover + decoys]
        order = list(range(groups))
        rng.shuffle(order)
        shown = [listed[i] for i in order]
        planted = sorted(order.index(i) + 1 for i in range(k))
        return {"members": members, "groups": shown, "k": k, "planted": planted}

    def prompt(self, state: dict) -> str:
        lines = "\n".join(f"group G{i}: " + ", ".join(f"m{x}" for x in g) for i, g in enumerate(state["groups"], 1))
        return (
            f"There are {state['members']} members, m1 to m{state['members']}, and these groups:\n{lines}\n\n"
            f"Choose at most {state['k']} groups so that every member is in at least one chosen group. "
            "Answer with the numbers of the chosen groups separated by spaces (3 for G3).\n" + answer_instruction("3 8")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["planted"]))

    def verify(self, state: dict, answer: str) -> Score:
        chosen = parse_int_list(answer, negative=False, max_digits=4)
        if chosen is None:
            return Score(0.0, "answer must be group numbers separated by spaces")
        if any(not 1 <= c <= len(state["groups"]) for c in chosen):
            return Score(0.0, "there is no such group")
        if len(set(chosen)) > state["k"]:
            return Score(0.0, f"more than {state['k']} groups chosen")
        covered = set().union(*(state["groups"][c - 1] for c in chosen)) if chosen else set()
        missing = state["members"] - len(covered)
        if missing:
            return Score(0.0, f"{missing} members are not covered")
        return Score(1.0, "every member is covered")

    def complexity(self, state: dict) -> float:
        return math.log2(math.comb(len(state["groups"]), state["k"])) * state["members"]
