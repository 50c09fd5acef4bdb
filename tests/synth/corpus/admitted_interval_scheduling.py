# expect: admitted
"""Interval scheduling: choose as many pairwise non-overlapping time intervals as possible.

The optimum comes from the classic greedy that always keeps the interval ending first. ``verify``
checks the submitted intervals themselves (known, distinct, in time order, non-overlapping), so
*any* maximum set earns full reward.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int_list

# A valid but smaller schedule earns at most this much, scaled by its share of the optimum.
PARTIAL_CAP = 0.5


def greedy_schedule(intervals: list[list[int]]) -> list[int]:
    """0-based indices of a maximum set of non-overlapping half-open intervals, in time order."""
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][1], intervals[i][0], i))
    chosen: list[int] = []
    free_from = -1
    for i in order:
        start, end = intervals[i]
        if start >= free_from:
            chosen.append(i)
            free_from = end
    return chosen


class IntervalScheduling(Environment):
    """Given numbered half-open time intervals [start, end), choose as many as possible so that
    no two of them overlap (one may start exactly when another ends). The answer is the numbers of
    the chosen intervals in time order. Any maximum set earns 1.0; a valid smaller set earns
    0.5 * size / optimum; overlapping, repeated, unknown or out-of-order intervals earn 0. Harder
    levels have more intervals over a longer horizon."""

    name = "interval_scheduling"
    asymmetry = "algorithmic"
    family = "scheduling"
    version = 1
    space = {
        "intervals": IntParam(5, 40, description="how many intervals are listed"),
        "horizon": IntParam(30, 2000, scale="log", description="intervals lie within [0, horizon]"),
    }

    def generate(self, rng: random.Random, intervals: int, horizon: int) -> dict:
        longest = max(2, (3 * horizon) // intervals)
        spans = []
        for _ in range(intervals):
            length = rng.randint(1, longest)
            start = rng.randint(0, horizon - length)
            spans.append([start, start + length])
        chosen = greedy_schedule(spans)
        return {"intervals": spans, "horizon": horizon, "chosen": [i + 1 for i in chosen]}

    def prompt(self, state: dict) -> str:
        lines = "\n".join(f"#{i}: [{s}, {e})" for i, (s, e) in enumerate(state["intervals"], start=1))
        return (
            f"Here are {len(state['intervals'])} time intervals. Interval [s, e) starts at time s and "
            f"ends at time e; two intervals overlap if they share any moment, so [2, 5) and [5, 9) do "
            f"not overlap.\n\n{lines}\n\n"
            "Choose as many intervals as possible so that no two chosen intervals overlap. Answer with "
            "the numbers of the chosen intervals in time order (earliest first), separated by spaces.\n"
            + answer_instruction("4 1 7")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["chosen"]))

    def verify(self, state: dict, answer: str) -> Score:
        picked = parse_int_list(answer, negative=False, max_digits=4)
        if picked is None:
            return Score(0.0, "answer must be interval numbers separated by spaces")
        spans = state["intervals"]
        unknown = [i for i in picked if not 1 <= i <= len(spans)]
        if unknown:
            return Score(0.0, f"there is no interval #{unknown[0]}")
        if len(set(picked)) != len(picked):
            return Score(0.0, "an interval is chosen more than once")
        for a, b in zip(picked, picked[1:], strict=False):
            if spans[b - 1][0] < spans[a - 1][1]:
                return Score(0.0, f"#{b} starts before #{a} ends (overlap, or not in time order)")
        optimum = len(state["chosen"])
        if len(picked) == optimum:
            return Score(1.0, f"a maximum schedule ({optimum} intervals)")
        return Score(
            PARTIAL_CAP * len(picked) / optimum, f"a valid schedule of {len(picked)}, but {optimum} are possible"
        )

    def complexity(self, state: dict) -> float:
        return len(state["intervals"]) * math.log2(state["horizon"])
