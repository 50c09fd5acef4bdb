"""Countdown numbers: reach a target with + - * / and parentheses over some of the given numbers.

The target is the value of a hidden (planted) expression over a random subset of the numbers,
built with exact integer intermediate results, so an answer always exists. ``verify`` parses the
answer with ``ast`` (never ``eval``), allows only integer literals, + - * /, unary minus and
parentheses, evaluates with exact fractions and accepts *any* expression that uses a
sub-multiset of the numbers and hits the target.
"""

from __future__ import annotations

import ast
import math
import random
import re
from collections import Counter
from fractions import Fraction

from envfoundry.core import ChoiceParam, Environment, IntParam, Score, answer_instruction, register

# Longer answers are never needed (at most 8 numbers of 3 digits); refusing them up front also
# keeps the parser away from pathological nesting.
MAX_EXPRESSION_CHARS = 300
_ALLOWED_CHARS_RE = re.compile(r"[0-9+\-*/() \t\n]+")
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
# Precedence of what an expression text ends in: a literal binds tightest.
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}
_LEAF = 3


class _Reject(Exception):
    """An answer that is not an allowed expression; the message is the reason."""


def _literals(node: ast.AST, ops: str, out: list[int]) -> None:
    """Collect the integer literals of an allowed expression, or raise _Reject."""
    if isinstance(node, ast.BinOp):
        symbol = _BINOPS.get(type(node.op))
        if symbol is None:
            raise _Reject("only + - * / and parentheses are allowed")
        if symbol not in ops:
            raise _Reject(f"operator {symbol} is not allowed here (allowed: {' '.join(ops)})")
        _literals(node.left, ops, out)
        _literals(node.right, ops, out)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        _literals(node.operand, ops, out)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out.append(node.value)
    else:
        raise _Reject("only whole numbers, + - * / and parentheses are allowed")


def _evaluate(node: ast.AST) -> Fraction:
    """Exact value of an already-checked expression; ZeroDivisionError propagates."""
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        op = type(node.op)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        return left / right
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand)
    return Fraction(node.value)


def _combine(left: tuple[int, str, int], op: str, right: tuple[int, str, int]) -> tuple[int, str, int]:
    """Join two (value, text, precedence) parts with the fewest parentheses that keep the meaning."""
    prec = _PREC[op]
    left_text = left[1] if left[2] >= prec else f"({left[1]})"
    # The right side also needs brackets under - and / when it has the same precedence.
    right_text = right[1] if right[2] > prec or (right[2] == prec and op in "+*") else f"({right[1]})"
    value = {"+": left[0] + right[0], "-": left[0] - right[0], "*": left[0] * right[0]}.get(op)
    if value is None:
        value = left[0] // right[0]
    return value, f"{left_text} {op} {right_text}", prec


class Countdown(Environment):
    """Countdown numbers game: write an expression that equals the target, using some of the given
    numbers (each at most once; not all need be used), the allowed operators among + - * / and
    parentheses. Division is exact (fractions may appear along the way). The target is planted as
    the value of a hidden expression, so a solution always exists; any expression that uses a
    sub-multiset of the numbers, only allowed operators, and equals the target earns 1.0.
    Everything else earns 0 (no partial credit: a near miss is not a solution)."""

    name = "countdown"
    asymmetry = "planted"
    family = "arithmetic"
    space = {
        "n_numbers": IntParam(3, 8, description="how many numbers are given"),
        "n_used": IntParam(2, 6, description="how many of them the planted solution uses (at most n_numbers)"),
        "max_value": IntParam(10, 100, scale="log", description="numbers are drawn from [1, max_value]"),
        "operators": ChoiceParam(["+-", "+-*", "+-*/"], description="the operators that may be used"),
    }

    def generate(self, rng: random.Random, n_numbers: int, n_used: int, max_value: int, operators: str) -> dict:
        used = min(n_used, n_numbers)
        # Caps the planted intermediate values, so targets stay in a Countdown-like range.
        bound = max(100, 50 * max_value)
        for _ in range(50):
            numbers = [rng.randint(1, max_value) for _ in range(n_numbers)]
            parts = [(numbers[i], str(numbers[i]), _LEAF) for i in rng.sample(range(n_numbers), used)]
            while len(parts) > 1:
                i, j = rng.sample(range(len(parts)), 2)
                a, b = parts[i], parts[j]
                if a[0] < b[0]:
                    a, b = b, a
                # Only steps that change the value and keep it a positive integer within the cap.
                options = ["+"]
                if "-" in operators and a[0] != b[0]:
                    options.append("-")
                if "*" in operators and b[0] > 1 and a[0] * b[0] <= bound:
                    options.append("*")
                if "/" in operators and 1 < b[0] < a[0] and a[0] % b[0] == 0:
                    options.append("/")
                merged = _combine(a, rng.choice(options), b)
                parts = [p for k, p in enumerate(parts) if k not in (i, j)] + [merged]
            target, solution, _ = parts[0]
            # A target equal to a given number would be solved by that number alone.
            if target not in numbers:
                break
        return {"numbers": numbers, "target": target, "operators": operators, "used": used, "solution": solution}

    def prompt(self, state: dict) -> str:
        ops = " ".join(state["operators"])
        numbers = ", ".join(str(x) for x in state["numbers"])
        division = (
            " / is exact division, so intermediate results may be fractions." if "/" in state["operators"] else ""
        )
        example = "(6 - 2) * 25" if "*" in state["operators"] else "25 - 6 + 2"
        if example == state["solution"]:
            example = "(8 - 3) * 10" if "*" in state["operators"] else "10 - 3 + 8"
        return (
            f"Numbers: {numbers}\nTarget: {state['target']}\n\n"
            f"Write an arithmetic expression that equals exactly {state['target']}, using some of the numbers "
            f"above. Each number may be used at most once (a number listed twice may be used twice); you do not "
            f"have to use all of them. Allowed: the operators {ops} and parentheses.{division} Use the numbers "
            f"as they are: no other numbers, no joining digits, no exponents.\n"
            f"Answer with the expression only, without '=' or the target.\n" + answer_instruction(example)
        )

    def reference(self, state: dict) -> str:
        return state["solution"]

    def verify(self, state: dict, answer: str) -> Score:
        text = answer.strip().rstrip(".").strip()
        if not text:
            return Score(0.0, "empty answer")
        if len(text) > MAX_EXPRESSION_CHARS:
            return Score(0.0, f"expression longer than {MAX_EXPRESSION_CHARS} characters")
        if not _ALLOWED_CHARS_RE.fullmatch(text):
            return Score(0.0, "only digits, + - * /, parentheses and spaces are allowed (no '=' or words)")
        try:
            tree = ast.parse(text, mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return Score(0.0, "not a well-formed arithmetic expression")
        literals: list[int] = []
        try:
            _literals(tree, state["operators"], literals)
        except _Reject as exc:
            return Score(0.0, str(exc))
        except RecursionError:
            return Score(0.0, "expression nested too deeply")
        overused = Counter(literals) - Counter(state["numbers"])
        if overused:
            return Score(0.0, f"uses numbers not given (or more often than given): {sorted(overused.elements())[:5]}")
        try:
            value = _evaluate(tree)
        except ZeroDivisionError:
            return Score(0.0, "division by zero")
        except RecursionError:
            return Score(0.0, "expression nested too deeply")
        if value != state["target"]:
            return Score(0.0, f"expression equals {value}, not {state['target']}", {"value": str(value)})
        return Score(1.0, "reaches the target", {"numbers_used": len(literals)})

    def complexity(self, state: dict) -> float:
        n, k, ops = len(state["numbers"]), state["used"], len(state["operators"])
        # log2 of the planted search space: ordered choices of k numbers, the operators between
        # them and the bracketings (a Catalan number), plus the digits of the target.
        choices = math.perm(n, k) * ops ** (k - 1) * math.comb(2 * (k - 1), k - 1) // k
        return math.log2(choices) + math.log10(state["target"] + 1)


register(Countdown)
