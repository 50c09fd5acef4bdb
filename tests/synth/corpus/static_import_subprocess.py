# expect: rejected at static: imports 'subprocess'
"""Prime factorisation: write a number as the product of its prime factors.

The number is built from planted primes, so factoring it is easy for the generator and the
reference is exact; ``verify`` checks that the submitted factors are primes, in non-decreasing
order, whose product is the number.
Disallowed: a leftover debugging helper (never called) shells out to the system ``factor``
command through ``subprocess``, which environments may not import.
"""

from __future__ import annotations

import math
import random
import subprocess

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int_list

SMALL_PRIMES = [p for p in range(2, 1000) if all(p % d for d in range(2, math.isqrt(p) + 1))]


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


def _debug_factor(n: int) -> str:
    """Cross-check with the system's ``factor`` command (debugging only; never called)."""
    return subprocess.run(["factor", str(n)], capture_output=True, text=True, check=False).stdout


class PrimeFactorisation(Environment):
    """Write a whole number as a product of primes. The answer is the prime factors in
    non-decreasing order, each repeated as often as it divides the number, separated by spaces
    (e.g. 360 is 2 2 2 3 3 5). Harder levels use more factors and larger primes."""

    name = "prime_factorisation"
    asymmetry = "planted"
    family = "number_theory"
    version = 1
    space = {
        "factors": IntParam(2, 8, description="how many prime factors (with repetition)"),
        "max_prime": IntParam(11, 997, scale="log", description="factors are primes up to this"),
    }

    def generate(self, rng: random.Random, factors: int, max_prime: int) -> dict:
        pool = [p for p in SMALL_PRIMES if p <= max_prime]
        chosen = sorted(rng.choice(pool) for _ in range(factors))
        return {"number": math.prod(chosen), "factors": chosen}

    def prompt(self, state: dict) -> str:
        return (
            f"Write {state['number']} as a product of prime numbers. List the prime factors from smallest "
            "to largest, each as many times as it divides the number, separated by spaces.\n"
            + answer_instruction("2 2 3 7")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["factors"]))

    def verify(self, state: dict, answer: str) -> Score:
        factors = parse_int_list(answer, negative=False, max_digits=12)
        if factors is None:
            return Score(0.0, "answer must be whole numbers separated by spaces")
        if factors != sorted(factors):
            return Score(0.0, "factors must be listed from smallest to largest")
        if not all(is_prime(f) for f in factors):
            return Score(0.0, "every factor must be prime")
        if math.prod(factors) != state["number"]:
            return Score(0.0, "the product of the factors is not the number")
        return Score(1.0, "correct factorisation")

    def complexity(self, state: dict) -> float:
        return len(state["factors"]) * math.log2(max(state["factors"]))
