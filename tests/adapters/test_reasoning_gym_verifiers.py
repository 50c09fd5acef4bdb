"""envfoundry's verifiers for reasoning-gym datasets with lenient scorers: the answers reasoning-gym's
scorer wrongly took are refused, every right answer (not only the reference) is taken, and model
text never reaches ``eval``."""

from __future__ import annotations

import time

import pytest

from envfoundry.adapters import reasoning_gym_verifiers as v

pytest.importorskip("sympy")

LOCK = {
    "initial_value": 0,
    "initial_state": "red",
    "target_value": 8,
    "solution_path": ["B", "A", "A"],
    "buttons": [
        {"name": "A", "type": "multiply", "value": 2, "active_state": "any"},
        {"name": "B", "type": "add", "value": 2, "active_state": "any"},
        {"name": "C", "type": "multiply", "value": 2, "active_state": "red"},
    ],
}


def test_button_presses_are_pressed_and_anything_else_is_refused():
    assert v.button_presses("B → A → A", "B → A → A", LOCK).reward == 1.0
    assert v.button_presses("B → A → A", "b -> a -> a", LOCK).reward == 1.0
    assert v.button_presses("B → A → A", "B, B, A", LOCK).reward == 1.0  # 2, 4, 8: another shortest one
    assert v.button_presses("B → A → A", "B → B → B → B", LOCK).reward == pytest.approx(0.5 * 3 / 4)
    assert v.button_presses("B → A → A", "A → A → B", LOCK).reward == 0.0  # ends on 2
    # reasoning-gym's scorer read the capitals of any text as presses.
    assert v.button_presses("B → A → A", "the answer is unknowable", LOCK).reward == 0.0
    assert v.button_presses("B → A → A", "BAA", LOCK).reward == 0.0
    assert v.button_presses("B → A → A", "B → A → D", LOCK).reward == 0.0


def test_a_button_works_only_while_the_light_is_in_its_state():
    # C multiplies only while red: pressed second (green) it does nothing and leaves the light.
    lock = {**LOCK, "target_value": 4, "solution_path": ["B", "A"]}
    assert v.button_presses("B → A", "B → C", lock).reward == 0.0  # 2, then C is idle: 2
    assert v.button_presses("B → A", "B → A", lock).reward == 1.0


def test_a_probability_is_a_decimal_to_the_reference_precision_or_an_exact_fraction():
    assert v.numeric_match("0.25390625", "130/512").reward == 1.0
    assert v.numeric_match("0.25390625", "65/256").reward == 1.0
    assert v.numeric_match("0.25390625", "0.25390625").reward == 1.0
    assert v.numeric_match("0.25390625", "0.2539").reward == 0.0  # reasoning-gym's 1e-4 took this
    assert v.numeric_match("0.25390625", "131/512").reward == 0.0
    assert v.numeric_match("0.25390625", "1/0").reward == 0.0
    assert v.numeric_match("0.3333333333", "1/3").reward == 1.0


POLY = {"variables": ["z"]}
PRODUCT = "-13241788048*z**12 - 220449638436*z**11 + 99821356020*z**3"


@pytest.mark.parametrize(
    ("answer", "right"),
    [
        (PRODUCT, True),
        ("99821356020*z**3 - 13241788048*z**12 - 220449638436*z**11", True),  # any order of terms
        ("z**3*99821356020 - 13241788048*z**12 - 220449638436*z**11", True),
        (PRODUCT + " + 1", False),
        (PRODUCT + " or 1", False),  # reasoning-gym's eval took "right or wrong" as right
        (f"{PRODUCT}, 7*z", False),
        ("(z + 1)**256", False),  # not expanded, and never expanded
        ("z*(99821356020*z**2)", False),
        (PRODUCT.replace("z", "x"), False),
        (PRODUCT + " + C", False),
    ],
)
def test_an_expanded_product_is_right_in_any_order_and_nothing_else(answer, right):
    assert v.expanded_polynomial(PRODUCT, answer, POLY).reward == (1.0 if right else 0.0)


RADICAL = {"variable": "x", "integrand": "8*sqrt(-8*x - 10)"}
POLYNOMIAL = {"variable": "x", "integrand": "-10*x**6 + 24*x**5 - 12*x + 9"}


@pytest.mark.parametrize(
    ("metadata", "answer", "right"),
    [
        (RADICAL, "-2*(-8*x - 10)**(3/2)/3 + C", True),
        (RADICAL, "-2*(-8*x - 10)**(3/2)/3", True),  # the constant may be left out
        (RADICAL, "-2*(-8*x-10)*sqrt(-8*x-10)/3 + 7", True),  # another form, another constant
        (RADICAL, "2*(-8*x - 10)**(3/2)/3 + C", False),
        (RADICAL, "8*sqrt(-8*x - 10)", False),  # the integrand copied
        (POLYNOMIAL, "-10*x**7/7 + 4*x**6 - 6*x**2 + 9*x + C", True),
        (POLYNOMIAL, "-10*x**7/7 + 4*x**6 - 6*x**2 + 8*x + C", False),
        (POLYNOMIAL, "-10*x**7/7 + 4*x**6 - 6*x**2 + 9*x + C or x", False),
        (POLYNOMIAL, "-10*x**7/7 + 4*x**6 - 6*x**2 + 9*x + y", False),  # y is no variable of it
        (POLYNOMIAL, "∫ -10*x**6 + 24*x**5 - 12*x + 9 dx", False),
        ({"variable": "x", "integrand": "sec(x)**2"}, "tan(x) + C", True),
        ({"variable": "x", "integrand": "sec(x)**2"}, "sin(x)/cos(x)", True),
        ({"variable": "x", "integrand": "sec(x)**2"}, "cot(x)", False),
        ({"variable": "x", "integrand": "1/x"}, "ln(x) + C", True),
    ],
)
def test_an_antiderivative_is_right_when_its_derivative_is_the_integrand(metadata, answer, right):
    assert v.antiderivative("", answer, metadata).reward == (1.0 if right else 0.0)


@pytest.mark.parametrize(
    "answer",
    [
        "__import__('os').system('true')",
        "x.__class__",
        "x**2 + (lambda: 1)()",
        "9**9**9",
        "x**(9**9)",
        "(((2**100)**100)**100)**100",
        "1" * 100,
        "x" + "+x" * 3000,
    ],
)
def test_hostile_symbolic_answers_are_refused_quickly_before_sympy_evaluates_them(answer):
    start = time.perf_counter()
    parsed = v.parse_symbolic(answer, ("x",))
    assert isinstance(parsed, str), parsed
    assert time.perf_counter() - start < 5.0


def test_real_roots_are_all_of_them_to_four_places_in_any_order():
    assert v.real_roots("-0.3773, 0.4005", "0.4005, -0.3773").reward == 1.0
    assert v.real_roots("-0.3773, 0.4005", "-0.37734, 0.40046").reward == 1.0
    assert v.real_roots("-0.3773, 0.4005", "-0.3774, 0.4005").reward == 0.0
    assert v.real_roots("-0.3773, 0.4005", "-0.3773").reward == 0.0  # one missing
    assert v.real_roots("-0.3773, 0.4005", "-0.3773, 0.4005, 1.0").reward == 0.0  # one extra
    assert v.real_roots("-0.3773, 0.4005", "-0.3773, 0.4005 or 1").reward == 0.0
    assert v.real_roots("0.5", "x = 0.5").reward == 0.0
