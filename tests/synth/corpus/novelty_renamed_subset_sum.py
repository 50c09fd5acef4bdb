# expect: rejected at novelty: planted_subset_sum
"""Hidden total: pick numbers from a list that add up to a given goal.

The goal is the total of a secretly chosen group of the numbers, so a solution always exists;
the checker accepts *any* selection with the right total, not only the secret one.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from envfoundry.core import (
    ChoiceParam,
    Environment,
    FloatParam,
    IntParam,
    Score,
    answer_instruction,
    parse_int_list,
)


class HiddenTotal(Environment):
    """Pick some of the given numbers so that they add up to exactly the goal. The goal is the
    total of a secretly chosen group, so a solution always exists; any group with the right total
    is accepted."""

    name = "hidden_total"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "count": IntParam(4, 40, description="how many numbers are listed"),
        "ceiling": IntParam(10, 10**6, scale="log", description="numbers are drawn from [1, ceiling]"),
        "decoy_share": FloatParam(
            0.1, 0.5, description="fraction of the numbers outside the secret group (0.5 gives the largest search)"
        ),
        "layout": ChoiceParam(["sorted", "shuffled"], description="whether the numbers are listed in order"),
    }

    def generate(self, rng: random.Random, count: int, ceiling: int, decoy_share: float, layout: str) -> dict:
        pool = [rng.randint(1, ceiling) for _ in range(count)]
        # At least one number inside and one outside the group, so "take them all" never works.
        group_size = min(count - 1, max(1, round(count * (1.0 - decoy_share))))
        secret = sorted(rng.sample(range(count), group_size))
        goal = sum(pool[i] for i in secret)
        # Carry the secret positions through the listing order, so the reference can be checked.
        if layout == "sorted":
            arrangement = sorted(range(count), key=lambda i: pool[i])
        else:
            arrangement = list(range(count))
            rng.shuffle(arrangement)
        where = {old: new for new, old in enumerate(arrangement)}
        listed = [pool[i] for i in arrangement]
        secret_positions = sorted(where[i] for i in secret)
        return {"pool": listed, "goal": goal, "secret": secret_positions}

    def prompt(self, state: dict) -> str:
        pool = " ".join(str(x) for x in state["pool"])
        return (
            f"Here are {len(state['pool'])} positive whole numbers:\n{pool}\n\n"
            f"Pick some of them (each listed number at most once) so that the picked "
            f"numbers add up to exactly {state['goal']}. Reply with the picked numbers separated "
            f"by spaces.\n" + answer_instruction("15 4 22")
        )

    def reference(self, state: dict) -> str:
        # Biggest first: never a contiguous run of the list when it is shown in order.
        picked = sorted((state["pool"][i] for i in state["secret"]), reverse=True)
        return " ".join(str(x) for x in picked)

    def verify(self, state: dict, answer: str) -> Score:
        picked = parse_int_list(answer)
        if picked is None:
            return Score(0.0, "reply must be whole numbers separated by spaces")
        stock = Counter(state["pool"])
        excess = Counter(picked) - stock
        if excess:
            return Score(0.0, f"picks numbers not listed (or too often): {sorted(excess)}")
        total = sum(picked)
        if total != state["goal"]:
            return Score(0.0, f"picked numbers add up to {total}, not {state['goal']}")
        return Score(1.0, "total matches the goal")

    def complexity(self, state: dict) -> float:
        count = len(state["pool"])
        size = len(state["secret"])
        # log2 of the number of groups of the secret size, times the digits per number.
        return math.log2(math.comb(count, size)) * math.log10(max(state["pool"]) + 1)
