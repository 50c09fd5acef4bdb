"""expression_eval: the tree evaluator agrees with Python on the rendered text; divisions are exact."""

import ast

import envfoundry
from envfoundry.envs.expression_eval import evaluate, render, small_divisors

ENV = envfoundry.make("expression_eval")


def python_value(text):
    # Test-only cross-check: every division in a generated expression is exact, so // is exact too.
    return eval(compile(ast.parse(text.replace("/", "//"), mode="eval"), "<expr>", "eval"))


def walk_divisions(node, found):
    """Collect every (dividend term, divisor) pair by re-running the evaluator's left-to-right terms."""
    if isinstance(node, int):
        return
    if node[0] == "neg":
        walk_divisions(node[1], found)
        return
    for i in range(1, len(node), 2):
        walk_divisions(node[i], found)
    term = evaluate(node[1])
    for i in range(2, len(node), 2):
        op, value = node[i], evaluate(node[i + 1])
        if op == "*":
            term *= value
        elif op == "/":
            found.append((term, value))
            term //= value
        else:
            term = value


def test_reference_matches_python_on_the_rendered_text():
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        for seed in range(150):
            inst = ENV.sample(seed, level=level)
            assert int(inst.reference) == python_value(inst.state["expression"]), inst.state["expression"]
            # The builder's running value and text agree with a fresh walk of the tree.
            assert inst.state["value"] == evaluate(inst.state["tree"])
            assert inst.state["expression"] == render(inst.state["tree"])


def test_divisions_are_exact_and_values_bounded():
    divisions = []
    for seed in range(200):
        inst = ENV.sample(seed, level=1.0)
        walk_divisions(inst.state["tree"], divisions)
        assert abs(int(inst.reference)) < 10**9
    assert len(divisions) > 100
    assert all(d != 0 and t % d == 0 for t, d in divisions)


def test_precedence_and_rendering_by_hand():
    tree = ["seq", ["seq", 26, "-", 89], "/", 3, "-", 4, "*", ["neg", 5]]
    assert render(tree) == "(26 - 89) / 3 - 4 * (-5)"
    assert evaluate(tree) == -21 + 20
    assert evaluate(["seq", 2, "-", 3, "*", 4, "/", 6, "+", 1]) == 2 - 2 + 1
    assert render(["seq", ["neg", ["seq", 1, "+", 2]], "*", 3]) == "-(1 + 2) * 3"


def test_verify_is_strict():
    inst = ENV.sample(7, level=0.75)
    value = int(inst.reference)
    assert ENV.score_answer(inst, f"{value}.").correct
    assert ENV.score_answer(inst, f" {value} ").correct
    assert ENV.score_answer(inst, str(value + 1)).reward == 0
    assert ENV.score_answer(inst, f"{value} or {value + 1}").reward == 0
    assert ENV.score_answer(inst, f"{value}.0").reward == 0
    assert "single integer" in ENV.score_answer(inst, "x = 3").reason


def test_parameters_change_the_instances():
    easy = [ENV.sample(s, level=0.0).state for s in range(20)]
    hard = [ENV.sample(s, level=1.0).state for s in range(20)]
    assert all("(" not in s["expression"] and "*" not in s["expression"] for s in easy)
    assert all(len(s["expression"]) <= 5 for s in easy)
    assert sum("(" in s["expression"] for s in hard) >= 18
    assert sum("/" in s["expression"] for s in hard) >= 10
    assert max(len(str(abs(int(ENV.reference(s))))) for s in hard) >= 5
    flat = ENV.sample(1, params={"n_operands": 10, "max_depth": 0, "operators": "+-*/neg"}).state["expression"]
    assert "(" not in flat.replace("(-", "")


def test_small_divisors_match_trial_division():
    values = [*range(0, 1200), 997 * 991, 2**20, 3 * 100_003, 720_720, 9_699_690]
    for limit in (9, 10, 97, 999):
        for value in values:
            expected = [d for d in range(2, min(limit, value) + 1) if value % d == 0]
            assert sorted(small_divisors(value, limit)) == expected, (value, limit)
