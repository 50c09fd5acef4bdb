"""envfoundry's own verifiers for reasoning-gym datasets whose ``score_answer`` is lenient.

Each takes ``(reference, answer, metadata)``, the item's reference, the extracted answer and the
item's metadata (as JSON), and returns a ``Score``; the adapter's ``VERIFIERS`` table picks one per
dataset. Most compare with the reference (normalised exact match, numbers to the reference's printed
precision); where several answers are right they check the answer itself: a button sequence is
pressed, an antiderivative is differentiated. Model text is never handed to ``eval``: symbolic
answers are screened (characters, names, sizes of powers) before sympy parses them.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from envfoundry.core.environment import Score

Metadata = Mapping[str, Any] | None

_SPACE_RE = re.compile(r"\s+")
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_FRACTION_RE = re.compile(r"([-+]?\d{1,40})\s*/\s*(\d{1,40})")


def normalise(text: str) -> str:
    """Whitespace collapsed, ends stripped (and one trailing full stop)."""
    return _SPACE_RE.sub(" ", text.strip().rstrip(".").strip())


def exact_match(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """1.0 when the answer equals the reference once both are normalised (``normalise``), or when
    both are single numbers of equal value (``3`` and ``3.0``); else 0. Never a substring match."""
    want, got = normalise(reference), normalise(answer)
    if got == want:
        return Score(1.0, "matches the reference")
    if _NUMBER_RE.fullmatch(want) and _NUMBER_RE.fullmatch(got) and float(want) == float(got):
        return Score(1.0, "equals the reference")
    return Score(0.0, "does not match the reference")


def caseless_match(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """``exact_match`` ignoring letter case (for answers such as a word read off a banner)."""
    return exact_match(reference.casefold(), answer.casefold(), metadata)


def _unit_in_last_place(number: str) -> float:
    """The value of one unit in the last printed digit: 0.01 for "3.14", 1e-08 for "1.5e-07"."""
    mantissa, _, exponent = number.lower().partition("e")
    return 10.0 ** (int(exponent or 0) - len(mantissa.partition(".")[2]))


def numeric_match(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """The reference's numbers in its own frame (a coordinate pair "(x, y)", a trailing unit that
    may be left out), each within half a unit of its last printed digit: every digit the reference
    shows must be right, and nothing may be added. A reference that is one number may also be
    answered by a fraction ``p/q`` of that value (a probability as 130/512)."""
    want_numbers = _NUMBER_RE.findall(reference)
    fraction = _FRACTION_RE.fullmatch(normalise(answer))
    if fraction and len(want_numbers) == 1 and _NUMBER_RE.fullmatch(normalise(reference)):
        numerator, denominator = int(fraction[1]), int(fraction[2])
        if denominator == 0:
            return Score(0.0, "the fraction divides by zero")
        # Exact arithmetic: a float of a 40-digit fraction may round onto the reference.
        error = abs(Fraction(numerator, denominator) - Fraction(want_numbers[0]))
        if error > Fraction(_unit_in_last_place(want_numbers[0])) / 2 * (1 + Fraction(1, 10**9)):
            return Score(0.0, "the fraction does not equal the reference to its printed precision")
        return Score(1.0, "the fraction equals the reference to its printed precision")
    got_numbers = _NUMBER_RE.findall(answer)
    frame = _NUMBER_RE.sub("#", normalise(reference)).replace(" ", "")
    got_frame = _NUMBER_RE.sub("#", normalise(answer)).replace(" ", "")
    if got_frame not in (frame, frame.rstrip("°%")) or len(got_numbers) != len(want_numbers):
        return Score(0.0, f"answer must have the reference's form ({frame.replace('#', 'n')})")
    for want, got in zip(want_numbers, got_numbers, strict=True):
        if abs(float(got) - float(want)) > 0.5 * _unit_in_last_place(want) * (1 + 1e-9):
            return Score(0.0, "does not equal the reference to its printed precision")
    return Score(1.0, "equals the reference to its printed precision")


_ROLE_RE = re.compile(r"\b([A-Z][a-z]+) is an? ([a-z]+)\b")


def roles_match(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """Knights and knaves (and their variants: angels and devils, altruists and egoists, ...): the
    same "NAME is a ROLE" claims as the reference, each person once, in any order and with any
    joining words; nothing else may be claimed."""
    want = sorted(_ROLE_RE.findall(reference))
    got = sorted(_ROLE_RE.findall(answer))
    names = [name for name, _ in got]
    if not got or len(set(names)) != len(names):
        return Score(0.0, "answer must say once of each person what they are")
    if len(_ROLE_RE.sub("", answer).split()) > 2 * len(got) + 2:  # joining words only, not prose
        return Score(0.0, "answer must state the roles only")
    return Score(float(got == want), "roles match" if got == want else "wrong roles")


def real_roots(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """Polynomial equations: the real solutions as comma-separated decimals, in any order, each
    within half a unit of the fourth decimal of the reference's (which reasoning-gym rounds to four
    places), and as many as there are: a missing, an extra or a misplaced one earns 0."""
    want = sorted(float(value) for value in reference.split(","))
    parts = [part.strip() for part in normalise(answer).split(",")]
    if not all(_NUMBER_RE.fullmatch(part) for part in parts):
        return Score(0.0, "answer must be the real solutions as comma-separated decimal numbers")
    got = sorted(float(part) for part in parts)
    if len(got) != len(want):
        return Score(0.0, f"the equation has {len(want)} real solution(s), the answer gives {len(got)}")
    if any(abs(g - w) > 0.5e-4 * (1 + 1e-9) for g, w in zip(got, want, strict=True)):
        return Score(0.0, "not every solution is right to four decimal places")
    return Score(1.0, "every real solution, to four decimal places")


# ----- answers checked by what they do --------------------------------------------------------
_ARROW_RE = re.compile(r"\s*(?:→|->|,)\s*|\s+")
_BUTTONS_RE = re.compile(r"[A-Z](?:(?:\s*(?:→|->|,)\s*|\s+)[A-Z])*")


def button_presses(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """Quantum lock: the answer is button letters separated by arrows (or commas or spaces), and
    nothing else. They are pressed as reasoning-gym's puzzle defines (a button works only while the
    light is in its state, and each press that works toggles the light); 1.0 when they reach the
    target in no more presses than the shortest solution, 0.5 * shortest / presses when they reach
    it in more, else 0. Any shortest sequence is right, not only the reference."""
    assert metadata is not None
    text = normalise(answer).upper()
    if not _BUTTONS_RE.fullmatch(text):
        return Score(0.0, "answer must be button letters separated by →, and nothing else")
    presses = _ARROW_RE.split(text)
    buttons = {button["name"]: button for button in metadata["buttons"]}
    unknown = sorted(set(presses) - set(buttons))
    if unknown:
        return Score(0.0, f"there is no button {unknown[0]}")
    value, light = metadata["initial_value"], metadata["initial_state"]
    for press in presses:
        button = buttons[press]
        if button["active_state"] not in (light, "any"):
            continue
        kind, amount = button["type"], button["value"]
        value = value + amount if kind == "add" else value - amount if kind == "subtract" else value * amount
        light = "green" if light == "red" else "red"
    shortest = len(metadata["solution_path"])
    if value != metadata["target_value"]:
        return Score(0.0, f"the presses end on {value}, not on {metadata['target_value']}")
    if len(presses) <= shortest:
        return Score(1.0, f"reaches the target in {len(presses)} presses")
    return Score(0.5 * shortest / len(presses), f"reaches the target in {len(presses)} presses; {shortest} are enough")


# Names a symbolic answer may use besides its variables and the constant C.
_FUNCTIONS = frozenset(
    "sqrt exp log ln sin cos tan sec csc cot asin acos atan sinh cosh tanh asinh acosh atanh E pi".split()
)
_EXPRESSION_CHARS_RE = re.compile(r"[0-9A-Za-z+\-*/().\s]+")
_DECIMAL_RE = re.compile(r"\d+\.\d*|\.\d+|\d+")
_NAME_RE = re.compile(r"[A-Za-z]+")
MAX_EXPRESSION_CHARS = 4000
MAX_DIGITS = 60
# Bounds on powers with a numeric exponent (see ``_screen``).
MAX_NUMERIC_EXPONENT = 256
MAX_POWER_DIGITS = 2000


def _screen(expression: Any) -> str | None:
    """Why an unevaluated sympy expression is too costly to evaluate exactly, or None: a numeric
    exponent above ``MAX_NUMERIC_EXPONENT`` or a power of a number with over ``MAX_POWER_DIGITS``
    digits (``9**9**9`` would not fit in memory). Sizes are estimated in floating point, which
    never blows up."""
    import sympy

    for arg in expression.args:
        problem = _screen(arg)
        if problem:
            return problem
    if not (expression.is_Pow and expression.exp.is_number):
        return None
    try:
        exponent = abs(complex(sympy.N(expression.exp, 15)))
        base = abs(complex(sympy.N(expression.base, 15))) if expression.base.is_number else 0.0
    except (ArithmeticError, TypeError, ValueError):
        return "a number too large to evaluate"
    if not exponent <= MAX_NUMERIC_EXPONENT:
        return f"an exponent above {MAX_NUMERIC_EXPONENT}"
    if base > 1 and math.log10(base) * exponent > MAX_POWER_DIGITS:
        return f"a power of over {MAX_POWER_DIGITS} digits"
    return None


def parse_symbolic(text: str, variables: tuple[str, ...]) -> Any:
    """A sympy expression for a model's answer in the dataset's notation (``**`` for powers, ``*``
    for products, ``+ C`` allowed), or a string saying why it is refused. Screened before sympy sees
    it: only digits, the variables, C, the usual functions and ``+-*/()``, numbers of at most
    ``MAX_DIGITS`` digits, and no power that would blow up."""
    import sympy
    from sympy.parsing.sympy_parser import parse_expr

    text = normalise(text)
    if not text or len(text) > MAX_EXPRESSION_CHARS or not _EXPRESSION_CHARS_RE.fullmatch(text):
        return "answer must be one expression written with digits, variables, + - * / ** and brackets"
    numbers = _DECIMAL_RE.findall(text)
    if any(len(number) > MAX_DIGITS for number in numbers) or "." in _DECIMAL_RE.sub("0", text):
        return "answer has a malformed or overlong number"
    allowed = set(variables) | {"C"} | _FUNCTIONS
    stray = sorted(set(_NAME_RE.findall(text)) - allowed)
    if stray:
        return f"answer uses '{stray[0]}', which is not a variable of the question or a known function"
    names = {name: sympy.Symbol(name) for name in (*variables, "C")} | {"ln": sympy.log}
    try:
        unevaluated = parse_expr(text, local_dict=dict(names), evaluate=False)
        problem = _screen(unevaluated) if isinstance(unevaluated, sympy.Basic) else "not an expression"
        if problem:
            return f"answer is too costly to evaluate: {problem}"
        return sympy.sympify(parse_expr(text, local_dict=dict(names)))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a malformed answer
        return f"answer is not an expression sympy can read ({type(exc).__name__})"


@functools.lru_cache(maxsize=256)
def _trusted(text: str, variables: tuple[str, ...]) -> Any:
    """reasoning-gym's own expression (a reference or an integrand), parsed with the same names."""
    import sympy

    parsed = parse_symbolic(text, variables)
    if isinstance(parsed, str):
        raise ValueError(f"reasoning-gym's expression {text!r} is refused: {parsed}")
    return sympy.sympify(parsed)


def _is_monomial(term: Any) -> bool:
    """A number times powers of variables (checked before anything is expanded: expanding
    ``(x + y)**256`` would not end)."""
    for factor in term.as_ordered_factors():
        base, exponent = factor.as_base_exp()
        if not (factor.is_Number or (base.is_Symbol and exponent.is_Integer and exponent > 0)):
            return False
    return True


def expanded_polynomial(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """Polynomial multiplication: the answer must be written expanded (a sum of terms; the product
    the question shows, copied, is not an answer) and equal the reference once both are expanded;
    terms may come in any order."""
    import sympy

    assert metadata is not None
    variables = tuple(metadata["variables"])
    parsed = parse_symbolic(answer, variables)
    if isinstance(parsed, str):
        return Score(0.0, parsed)
    if parsed.has(sympy.Symbol("C")):
        return Score(0.0, "answer has a C, which is not a variable of the question")
    if not all(_is_monomial(term) for term in sympy.Add.make_args(parsed)):
        return Score(0.0, "answer must be expanded into a sum of terms")
    if sympy.expand(parsed - _trusted(reference, variables)) != 0:
        return Score(0.0, "does not equal the product")
    return Score(1.0, "equals the expanded product")


# Points where an antiderivative's derivative is compared with the integrand (away from 0, +-1 and
# the small integers where the datasets' logarithms and radicals have their singular points).
_PROBE_POINTS = (0.3719, 1.4142, 2.2361, -0.6931, -1.7321, 3.1416, 0.5772)
_TOLERANCE = 1e-7


def antiderivative(reference: str, answer: str, metadata: Metadata = None) -> Score:
    """Indefinite integration: the answer's derivative must equal the integrand (any constant of
    integration, written as C or left out). Compared numerically at fixed points off the usual
    singularities, in complex arithmetic with mpmath (so a radical of a negative number compares
    too, and sec, csc and cot exist); at least four points must be defined."""
    import sympy

    assert metadata is not None
    variable = str(metadata["variable"])
    parsed = parse_symbolic(answer, (variable,))
    if isinstance(parsed, str):
        return Score(0.0, parsed)
    x = sympy.Symbol(variable)
    integrand = _trusted(str(metadata["integrand"]), (variable,))
    difference = sympy.lambdify(x, sympy.diff(parsed, x) - integrand, modules="mpmath")
    scale = sympy.lambdify(x, integrand, modules="mpmath")
    compared = 0
    for point in _PROBE_POINTS:
        try:
            gap, size = complex(difference(point)), complex(scale(point))
        except Exception:  # noqa: BLE001 - a point where either side is undefined is skipped
            continue
        if not (math.isfinite(abs(gap)) and math.isfinite(abs(size))):
            continue
        if abs(gap) > _TOLERANCE * (1 + abs(size)):
            return Score(0.0, "its derivative is not the integrand")
        compared += 1
    if compared < 4:
        return Score(0.0, "its derivative could not be compared with the integrand")
    return Score(1.0, "its derivative is the integrand")
