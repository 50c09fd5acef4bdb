"""Expression evaluation: compute the value of an integer arithmetic expression.

The expression is generated as a tree of flat operator sequences (a parenthesised group is a
nested sequence). The builder tracks the value with the usual precedence as it goes, the same
rules ``evaluate`` applies to the finished tree, never ``eval``; the tests hold the two (and
Python) to each other. Divisions are planted to be exact and products are capped, so every
intermediate value is an integer of bounded size.
"""

from __future__ import annotations

import functools
import math
import random
from itertools import pairwise
from typing import Any

from envfoundry.core import ChoiceParam, Environment, IntParam, Score, answer_instruction, parse_int, register

# A node is an int (a literal), ["neg", node] (unary minus) or ["seq", item, op, item, op, item, ...]
# (a flat sequence evaluated with precedence; a nested "seq" is shown in parentheses).
Node = Any


def evaluate(node: Node) -> int:
    """Value of a node: * and / before + and -, left to right, exact integer division.

    Raises ValueError on an inexact division or a division by zero (never produced by ``generate``).
    """
    if isinstance(node, int):
        return node
    if node[0] == "neg":
        return -evaluate(node[1])
    total = 0
    term = evaluate(node[1])
    for i in range(2, len(node), 2):
        op, value = node[i], evaluate(node[i + 1])
        if op == "*":
            term *= value
        elif op == "/":
            if value == 0 or term % value:
                raise ValueError(f"{term} / {value} is not an exact division")
            term //= value
        else:
            # The sign travels with the new term, so a - b * c = a + (-b) * c.
            total += term
            term = value if op == "+" else -value
    return total + term


def render(node: Node, top: bool = True, lead: bool = True) -> str:
    """Text of a node. A nested sequence is always parenthesised; a negation is bare only where it
    opens its sequence (``lead``), so the text never shows two operators in a row."""
    if isinstance(node, int):
        return str(node)
    if node[0] == "neg":
        text = "-" + render(node[1], top=False, lead=False)
        return text if lead else f"({text})"
    parts = [render(node[1], top=False, lead=True)]
    for i in range(2, len(node), 2):
        parts.append(node[i])
        parts.append(render(node[i + 1], top=False, lead=False))
    text = " ".join(parts)
    return text if top else f"({text})"


def _primes_upto(limit: int) -> list[int]:
    """The primes up to ``limit``, by a sieve of Eratosthenes."""
    sieve = bytearray([1]) * (limit + 1)
    sieve[0] = sieve[1] = 0
    for p in range(2, math.isqrt(limit) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit + 1, p)))
    return [p for p in range(limit + 1) if sieve[p]]


# Every prime a divisor can contain: divisors are at most max_operand, which is at most 999.
_PRIMES = _primes_upto(999)


@functools.lru_cache(maxsize=8192)
def small_divisors(value: int, limit: int) -> tuple[int, ...]:
    """The divisors of ``value`` (>= 0) in [2, limit], in no particular order.

    Factoring over the primes up to ``limit`` (a divisor that small has no other prime factor)
    and multiplying out is far cheaper than testing every candidate up to ``limit``; memoised,
    because the same small running terms come up again and again.
    """
    divisors = [1]
    rest = value
    for p in _PRIMES:
        if p > limit or p * p > rest:
            break
        if rest % p == 0:
            lower = divisors
            power = 1
            while rest % p == 0:
                rest //= p
                power *= p
                if power <= limit:
                    divisors = divisors + [d * power for d in lower if d * power <= limit]
    # What is left is 1, a prime past the square root, or a product of primes above limit.
    if 1 < rest <= limit:
        divisors += [d * rest for d in divisors if d * rest <= limit]
    return tuple(divisors[1:])


class _Builder:
    """Builds one expression; holds the limits so the recursion stays short.

    A sequence comes back as (node, value, text): the value is tracked with the same precedence
    rules as ``evaluate`` and the text is what ``render`` would give, so a sample never walks the
    tree again (the tests hold both to ``evaluate``, ``render`` and Python).
    """

    def __init__(self, rng: random.Random, max_operand: int, ops: str, negation: bool) -> None:
        # One uniform draw per decision, scaled: much cheaper than randint/choice.
        self.random = rng.random
        self.max_operand = max_operand
        self.ops = ops
        # The fallback when a planted division has no divisor to use.
        self.fallback_ops = "+-*" if "*" in ops else "+-"
        self.negation = negation
        # At most about one product of two full-size operands, times a small factor.
        self.bound = 10 * max_operand * max_operand

    def sequence(self, size: int, depth_left: int) -> tuple[list, int, str]:
        """A flat sequence of ``size`` operands in all (nested ones included), unparenthesised."""
        random_ = self.random
        ops, negation = self.ops, self.negation
        if depth_left == 0:
            sizes = [1] * size
        else:
            # With depth left, group some operands into parenthesised sub-expressions: a random
            # composition of size into count (2..size) parts, from count - 1 distinct cut points.
            count = 2 + int(random_() * (size - 1))
            if count == size:
                sizes = [1] * size
            else:
                cuts = set()
                while len(cuts) < count - 1:
                    cuts.add(1 + int(random_() * (size - 1)))
                bounds = [0, *sorted(cuts), size]
                sizes = [b - a for a, b in pairwise(bounds)]
        node: list = ["seq"]
        parts: list[str] = []
        total = term = 0
        for index, part in enumerate(sizes):
            if index:
                op = ops[int(random_() * len(ops))]
                if op == "/" and part == 1:
                    # Plant an exact division: the divisor is drawn from the running term's divisors.
                    divisors = small_divisors(abs(term), self.max_operand)
                    if divisors:
                        divisor = divisors[int(random_() * len(divisors))]
                        node += ["/", divisor]
                        parts += ["/", str(divisor)]
                        term //= divisor
                        continue
                    op = self.fallback_ops[int(random_() * len(self.fallback_ops))]
            # The operand: a literal or a parenthesised sub-sequence, maybe negated. A negation
            # needs no parentheses of its own only where it opens the sequence.
            if part == 1:
                value = 1 + int(random_() * self.max_operand)
                child: Node = value
                text = str(value)
            else:
                child, value, text = self.sequence(part, depth_left - 1)
                text = f"({text})"
            if negation and random_() < 0.2:
                child, value, text = ["neg", child], -value, f"(-{text})" if index else f"-{text}"
            if not index:
                node.append(child)
                parts.append(text)
                term = value
                continue
            if op == "/" and (value == 0 or term % value or abs(value) == 1):
                op = "*"
            if op == "*" and abs(term * value) > self.bound:
                op = "+" if random_() < 0.5 else "-"
            if op == "*":
                term *= value
            elif op == "/":
                term //= value
            else:
                total += term
                term = value if op == "+" else -value
            node += [op, child]
            parts += [op, text]
        return node, total + term, " ".join(parts)


def _rules(operators: str) -> str:
    """Everything after the expression in the prompt; it depends on the operators only."""
    rules = [
        "parentheses first, then * and / from left to right, then + and - from left to right"
        if "*" in operators
        else "parentheses first, then + and - from left to right"
    ]
    if "/" in operators:
        rules.append("/ is integer division, and every division in the expression is exact (no remainder)")
    if operators.endswith("neg"):
        rules.append("a minus sign directly before a number or an opening parenthesis negates it")
    rule_text = "; ".join(rules)
    return (
        f"Rules: {rule_text}. Answer with the value as a single integer (digits only, with a leading minus "
        f"sign if it is negative).\n" + answer_instruction("-42")
    )


class ExpressionEval(Environment):
    """Evaluate an integer arithmetic expression with the usual precedence and parentheses
    (+, -, *, exact division and, at the hardest setting, unary minus). Every division in the
    expression is exact and products are capped, so all intermediate values are integers of
    bounded size. The answer is one integer; only the exact value earns reward (1.0), there is
    no partial credit."""

    name = "expression_eval"
    asymmetry = "algorithmic"
    family = "arithmetic"
    space = {
        "n_operands": IntParam(2, 14, description="how many numbers appear in the expression"),
        "max_depth": IntParam(0, 3, description="deepest nesting of parentheses"),
        "max_operand": IntParam(9, 999, scale="log", description="numbers are drawn from [1, max_operand]"),
        "operators": ChoiceParam(
            ["+-", "+-*", "+-*/", "+-*/neg"],
            description="binary operators in use; 'neg' adds unary minus in front of numbers and parentheses",
        ),
    }

    def generate(self, rng: random.Random, n_operands: int, max_depth: int, max_operand: int, operators: str) -> dict:
        negation = operators.endswith("neg")
        ops = operators.removesuffix("neg")
        tree, value, expression = _Builder(rng, max_operand, ops, negation).sequence(n_operands, max_depth)
        # The value is kept so that reference and verify need no second walk of the tree.
        return {"tree": tree, "expression": expression, "value": value, "operators": operators}

    def prompt(self, state: dict) -> str:
        return f"Evaluate this arithmetic expression:\n\n{state['expression']}\n\n{_RULES[state['operators']]}"

    def reference(self, state: dict) -> str:
        return str(state["value"])

    def worked_solution(self, state: dict) -> str:
        # Innermost parentheses first, each replaced by its value in the steps that follow.
        steps: list[str] = []

        def reduce(node: Node) -> int:
            if isinstance(node, int):
                return node
            if node[0] == "neg":
                return -reduce(node[1])
            values = [reduce(item) for item in node[1::2]]
            shown = [str(values[0])] + [f"({v})" if v < 0 else str(v) for v in values[1:]]
            text = " ".join(part for pair in zip(shown, [*node[2::2], ""], strict=True) for part in pair).strip()
            value = evaluate(node)
            steps.append(f"{text} = {value}")
            return value

        reduce(state["tree"])
        return "\n".join(steps)

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single integer")
        if value != state["value"]:
            return Score(0.0, f"{value} is not the value of the expression", {"value": value})
        return Score(1.0, "correct value")

    def complexity(self, state: dict) -> float:
        # Digits to handle, plus operations, with * and / counting double and each pair of
        # parentheses or negation as one more step. The text holds only digits, spaces, + - * /
        # and parentheses (as many ")" as "("), so the digits are what the other counts leave.
        text = state["expression"]
        count = text.count
        plus, muldiv, paren = count("+"), count("*") + count("/"), count("(")
        digits = len(text) - count(" ") - plus - count("-") - muldiv - 2 * paren
        steps = plus + count("- ") + 2 * muldiv
        return float(digits + steps + paren)


# Built once per operator choice: the prompt only inserts the expression in front.
_RULES = {operators: _rules(operators) for operators in ExpressionEval.space["operators"].choices}

register(ExpressionEval)
