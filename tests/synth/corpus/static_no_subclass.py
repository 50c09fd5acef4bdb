# expect: rejected at static: subclass
"""Prime counting: how many primes lie in a range [a, b].

The count comes from a sieve of Eratosthenes over the range (b is at most 200,000);
``verify`` compares the submitted count with it.
Bug: the class does not subclass ``envfoundry.Environment`` (the base class was forgotten), so
the module defines no environment.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import IntParam, Score, answer_instruction, parse_int


def primes_between(low: int, high: int) -> int:
    """Primes p with low <= p <= high, by a sieve up to ``high``."""
    sieve = bytearray([1]) * (high + 1)
    sieve[0:2] = b"\x00\x00"
    for p in range(2, math.isqrt(high) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytearray(len(range(p * p, high + 1, p)))
    return sum(sieve[low:])


class PrimeCount:
    """Count the prime numbers between a and b, both included. The answer is that count.
    Harder levels use larger and wider ranges."""

    name = "prime_count"
    asymmetry = "algorithmic"
    family = "number_theory"
    version = 1
    space = {
        "max_high": IntParam(30, 200_000, scale="log", description="b is drawn from [max_high / 2, max_high]"),
    }

    def generate(self, rng: random.Random, max_high: int) -> dict:
        high = rng.randint(max_high // 2, max_high)
        low = rng.randint(1, high // 2)
        return {"low": low, "high": high, "count": primes_between(low, high)}

    def prompt(self, state: dict) -> str:
        return (
            f"How many prime numbers are there between {state['low']} and {state['high']}, both included?\n"
            + answer_instruction("14")
        )

    def reference(self, state: dict) -> str:
        return str(state["count"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["count"]:
            return Score(0.0, f"{value} is not the number of primes in the range")
        return Score(1.0, "correct count")

    def complexity(self, state: dict) -> float:
        return math.log2(state["high"] - state["low"] + 2)
