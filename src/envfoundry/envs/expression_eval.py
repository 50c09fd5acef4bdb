"""Expression evaluation: compute the value of an integer arithmetic expression.

The expression is generated as a tree of flat operator sequences (a parenthesised group is a
nested sequence), and the reference comes from an evaluator over that tree with the usual
precedence, never from ``eval``. Divisions are planted to be exact and products are capped, so
every intermediate value is an integer of bounded size.
"""

from __future__ import annotations

import random
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


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """A random composition of ``total`` into ``parts`` positive sizes."""
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


class _Builder:
    """Builds one expression; holds the limits so the recursion stays short."""

    def __init__(self, rng: random.Random, max_operand: int, ops: str, negation: bool) -> None:
        self.rng = rng
        self.max_operand = max_operand
        self.ops = ops
        self.negation = negation
        # At most about one product of two full-size operands, times a small factor.
        self.bound = 10 * max_operand * max_operand

    def leaf(self) -> int:
        return self.rng.randint(1, self.max_operand)

    def maybe_negate(self, node: Node, value: int) -> tuple[Node, int]:
        if self.negation and self.rng.random() < 0.2:
            return ["neg", node], -value
        return node, value

    def item(self, size: int, depth_left: int) -> tuple[Node, int]:
        if size == 1:
            value = self.leaf()
            return self.maybe_negate(value, value)
        node, value = self.sequence(size, depth_left)
        return self.maybe_negate(node, value)

    def sequence(self, size: int, depth_left: int) -> tuple[list, int]:
        rng = self.rng
        # With depth left, group some operands into parenthesised sub-expressions.
        count = size if depth_left == 0 else rng.randint(2, size)
        sizes = _split(rng, size, count) if count < size else [1] * size
        first, term = self.item(sizes[0], depth_left - 1)
        node: list = ["seq", first]
        total = 0
        for part in sizes[1:]:
            op = rng.choice(self.ops)
            if op == "/" and part == 1:
                # Plant an exact division: the divisor is drawn from the running term's divisors.
                divisors = [d for d in range(2, min(self.max_operand, abs(term)) + 1) if term % d == 0]
                if divisors:
                    divisor = rng.choice(divisors)
                    node += ["/", divisor]
                    term //= divisor
                    continue
                op = rng.choice("+-*" if "*" in self.ops else "+-")
            child, value = self.item(part, depth_left - 1)
            if op == "/" and (value == 0 or term % value or abs(value) == 1):
                op = "*"
            if op == "*" and abs(term * value) > self.bound:
                op = rng.choice("+-")
            if op == "*":
                term *= value
            elif op == "/":
                term //= value
            else:
                total += term
                term = value if op == "+" else -value
            node += [op, child]
        return node, total + term


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
        tree, _ = _Builder(rng, max_operand, ops, negation).sequence(n_operands, max_depth)
        return {"tree": tree, "expression": render(tree), "operators": operators}

    def prompt(self, state: dict) -> str:
        operators = state["operators"]
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
            f"Evaluate this arithmetic expression:\n\n{state['expression']}\n\n"
            f"Rules: {rule_text}. Answer with the value as a single integer (digits only, with a leading minus "
            f"sign if it is negative).\n" + answer_instruction("-42")
        )

    def reference(self, state: dict) -> str:
        return str(evaluate(state["tree"]))

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single integer")
        expected = evaluate(state["tree"])
        if value != expected:
            return Score(0.0, f"{value} is not the value of the expression", {"value": value})
        return Score(1.0, "correct value")

    def complexity(self, state: dict) -> float:
        # Digits to handle, plus operations, with * and / counting double and each pair of
        # parentheses or negation as one more step.
        text = state["expression"]
        digits = sum(ch.isdigit() for ch in text)
        steps = text.count("+") + text.count("- ") + 2 * (text.count("*") + text.count("/"))
        return float(digits + steps + text.count("("))


register(ExpressionEval)
