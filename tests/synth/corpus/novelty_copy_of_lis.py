# expect: rejected at novelty: longest_increasing_subsequence
"""Longest increasing subsequence: the longest strictly increasing run of values, read in order
(not necessarily adjacent) from a sequence of integers.

The optimal length comes from the O(n log n) patience-sorting algorithm; ``verify`` checks the
submitted values themselves (a subsequence, strictly increasing, of optimal length), so *any*
longest increasing subsequence earns full reward.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register

# A valid but shorter increasing subsequence earns at most this much, scaled by its share of the optimum.
PARTIAL_CAP = 0.5


def longest_increasing_subsequence(sequence: list[int]) -> list[int]:
    """One longest strictly increasing subsequence (its values), in O(n log n).

    ``tails[k]`` is the index of the smallest possible last value of an increasing subsequence
    of length k + 1; ``previous`` links each index to its predecessor in such a subsequence.
    """
    tails: list[int] = []
    tail_values: list[int] = []
    previous = [-1] * len(sequence)
    for i, x in enumerate(sequence):
        # bisect_left: an equal value replaces rather than extends, which makes the order strict.
        k = bisect.bisect_left(tail_values, x)
        if k:
            previous[i] = tails[k - 1]
        if k == len(tails):
            tails.append(i)
            tail_values.append(x)
        else:
            tails[k] = i
            tail_values[k] = x
    out = []
    i = tails[-1] if tails else -1
    while i >= 0:
        out.append(sequence[i])
        i = previous[i]
    out.reverse()
    return out


def parse_values(answer: str) -> list[int] | None:
    """Non-negative integers separated by spaces (commas tolerated), optionally in brackets; else None."""
    return parse_int_list(answer, negative=False, max_digits=9)


class LongestIncreasingSubsequence(Environment):
    """Find a longest strictly increasing subsequence of a sequence of integers: values taken in
    their original order (not necessarily adjacent), each larger than the one before (equal values
    do not count as increasing). The answer is the values of the subsequence. Any strictly
    increasing subsequence of optimal length earns 1.0. Partial credit: a valid strictly increasing
    subsequence that is shorter earns 0.5 * length / optimum (always below 0.5); values out of
    order, not strictly increasing, or not in the sequence earn 0. Harder levels use longer
    sequences, larger numbers and more repeated values."""

    name = "increasing_run_finder"
    asymmetry = "algorithmic"
    family = "sequences"
    space = {
        "length": IntParam(6, 64, description="how many integers the sequence has"),
        "max_value": IntParam(9, 999, scale="log", description="values are drawn from [0, max_value]"),
        "duplicate_rate": FloatParam(
            0.0, 0.4, description="share of positions that repeat an earlier value (ties trap non-strict answers)"
        ),
    }

    def generate(self, rng: random.Random, length: int, max_value: int, duplicate_rate: float) -> dict:
        # int(rand() * k) draws from range(k) faster than rng.randint; it still uses only ``rng``.
        rand = rng.random
        span = max_value + 1
        sequence: list[int] = []
        for i in range(length):
            if i and rand() < duplicate_rate:
                sequence.append(sequence[int(rand() * i)])
            else:
                sequence.append(int(rand() * span))
        lis = longest_increasing_subsequence(sequence)
        return {"sequence": sequence, "lis": lis}

    def prompt(self, state: dict) -> str:
        # Commas between values: the answer is written with spaces, so a contiguous run of the
        # sequence never appears verbatim as an answer.
        values = ", ".join(map(str, state["sequence"]))
        return (
            f"Here is a sequence of {len(state['sequence'])} integers:\n{values}\n\n"
            f"Find a longest strictly increasing subsequence: values taken from the sequence in their "
            f"original order (they need not be adjacent), each strictly larger than the one before "
            f"(equal values do not count as increasing). If several are equally long, give any one. "
            f"Answer with the values of the subsequence, in order, separated by spaces.\n" + answer_instruction("2 5 9")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["lis"]))

    def verify(self, state: dict, answer: str) -> Score:
        values = parse_values(answer)
        if values is None:
            return Score(0.0, "answer must be integers separated by spaces")
        for a, b in itertools.pairwise(values):
            if b <= a:
                return Score(0.0, f"not strictly increasing: {b} follows {a}")
        # Greedy matching is exact for subsequence tests: taking the earliest occurrence never hurts.
        sequence = state["sequence"]
        position = 0
        for value in values:
            try:
                position = sequence.index(value, position) + 1
            except ValueError:
                return Score(0.0, f"{value} does not occur in the sequence after the previous value")
        optimum = len(state["lis"])
        if len(values) == optimum:
            return Score(1.0, f"a longest increasing subsequence (length {optimum})", {"length": optimum})
        # A longer one cannot pass the checks above; this is a shorter, valid one.
        return Score(
            PARTIAL_CAP * len(values) / optimum,
            f"a valid increasing subsequence of length {len(values)}, but the longest has length {optimum}",
            {"length": len(values), "optimum": optimum},
        )

    def complexity(self, state: dict) -> float:
        # Length times bits per distinct value: how much there is to read and compare.
        sequence = state["sequence"]
        return len(sequence) * math.log2(len(set(sequence)) + 1)


register(LongestIncreasingSubsequence)
