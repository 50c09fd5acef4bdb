# expect: rejected at novelty: knapsack
"""Cargo loading: fill a truck with crates of greatest total worth without going over its load limit.

The best worth is found exactly by a table over load sizes, one row per crate; the largest
limit is 30 crates * 100 max mass * 0.5, so the table stays small and fills in a millisecond.
The checker looks at the submitted crates themselves, so *any* best selection gets full marks.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import (
    ChoiceParam,
    Environment,
    FloatParam,
    IntParam,
    Score,
    answer_instruction,
    parse_int_list,
)

# A legal but not best load gets at most this much, scaled by its fraction of the best worth.
HALF_CREDIT = 0.5


def best_load(masses: list[int], worths: list[int], limit: int) -> tuple[int, list[int]]:
    """Best total worth and one best selection of 0-based crate numbers, via the table over loads.

    Each crate's row comes from the row before it in one list comprehension; all rows are kept
    so that one best selection can be traced back at the end.
    """
    table = [0] * (limit + 1)
    history = [table]
    for m, v in zip(masses, worths, strict=True):
        if m <= limit:
            # row[load] = max(table[load], table[load - m] + v) for load >= m; smaller loads stay.
            table = table[:m] + [x if x >= y + v else y + v for x, y in zip(table[m:], table, strict=False)]
        history.append(table)
    picked = []
    load = limit
    for crate in range(len(masses) - 1, -1, -1):
        if history[crate + 1][load] != history[crate][load]:
            picked.append(crate)
            load -= masses[crate]
    picked.reverse()
    return table[limit], picked


def read_crates(reply: str) -> list[int] | None:
    """Crate numbers separated by spaces (commas allowed), maybe in brackets; otherwise None."""
    return parse_int_list(reply, negative=False, max_digits=6)


class CargoLoading(Environment):
    """Cargo loading: pick crates (each one at most once) whose combined mass stays within the
    truck's load limit and whose combined worth is as high as possible. Reply with the numbers of
    the picked crates (1-based, as listed). Any legal selection whose worth equals the best (found
    by a table over loads) gets 1.0. Partial credit: a legal selection of lower worth gets
    0.5 * worth / best (always under 0.5); an overloaded selection or a repeated or unknown crate
    number gets 0. Higher levels have more crates, heavier ones, a roomier truck and worths tied to
    masses (which beats the greedy worth-per-mass rule)."""

    name = "cargo_loading"
    asymmetry = "algorithmic"
    family = "optimization"
    space = {
        "crates": IntParam(4, 30, description="number of crates to pick from"),
        "heaviest": IntParam(10, 100, scale="log", description="masses are drawn from [1, heaviest]"),
        "limit_share": FloatParam(
            0.25, 0.5, description="load limit as a fraction of the total mass (0.5 gives the most legal loads)"
        ),
        "coupling": ChoiceParam(
            ["uncorrelated", "weak", "strong"],
            description="how worths follow masses: independent, mass plus noise, or mass plus a constant",
        ),
    }

    def generate(self, rng: random.Random, crates: int, heaviest: int, limit_share: float, coupling: str) -> dict:
        # int(draw() * k) picks from range(k) quicker than rng.randint, still only through ``rng``.
        draw = rng.random
        masses = [1 + int(draw() * heaviest) for _ in range(crates)]
        noise = max(1, heaviest // 10)
        if coupling == "uncorrelated":
            worths = [1 + int(draw() * heaviest) for _ in range(crates)]
        elif coupling == "weak":
            worths = [max(1, m - noise + int(draw() * (2 * noise + 1))) for m in masses]
        else:
            worths = [m + noise for m in masses]
        everything = sum(masses)
        # The lightest crate always fits and never all crates do, so "take it all" is never right
        # (with two or more crates the lightest is at most everything - 1).
        limit = min(everything - 1, max(min(masses), round(everything * limit_share)))
        top, picked = best_load(masses, worths, limit)
        return {
            "masses": masses,
            "worths": worths,
            "limit": limit,
            "best": top,
            "picked": [c + 1 for c in picked],
        }

    def prompt(self, state: dict) -> str:
        rows = "\n".join(
            f"Crate {c}: mass {m}, worth {v}"
            for c, (m, v) in enumerate(zip(state["masses"], state["worths"], strict=True), start=1)
        )
        return (
            f"A truck can carry a combined mass of at most {state['limit']}, and there are "
            f"{len(state['masses'])} crates:\n\n{rows}\n\n"
            f"Pick a set of crates (each crate at most once) whose combined mass is at most "
            f"{state['limit']} and whose combined worth is as high as possible. Reply with the numbers "
            f"of the picked crates separated by spaces.\n" + answer_instruction("2 3 6")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["picked"]))

    def verify(self, state: dict, answer: str) -> Score:
        picked = read_crates(answer)
        if picked is None:
            return Score(0.0, "reply must be crate numbers separated by spaces")
        masses, worths = state["masses"], state["worths"]
        count = len(masses)
        bogus = [c for c in picked if not 1 <= c <= count]
        if bogus:
            return Score(0.0, f"there is no crate {bogus[0]} (crates are numbered 1 to {count})")
        if len(set(picked)) != len(picked):
            return Score(0.0, "a crate is picked more than once")
        mass = sum(masses[c - 1] for c in picked)
        if mass > state["limit"]:
            return Score(0.0, f"combined mass {mass} is over the limit {state['limit']}")
        worth = sum(worths[c - 1] for c in picked)
        top = state["best"]
        if worth == top:
            return Score(1.0, f"a best selection (worth {worth})", {"worth": worth})
        return Score(
            HALF_CREDIT * worth / top,
            f"a legal selection of worth {worth}, but the best is {top}",
            {"worth": worth, "best": top},
        )

    def complexity(self, state: dict) -> float:
        # Crates times bits of the load limit: the size of the table, on a log scale.
        return len(state["masses"]) * math.log2(state["limit"] + 1)
