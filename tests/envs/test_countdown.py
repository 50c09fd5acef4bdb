"""countdown: planted targets are reachable, verify parses safely and accepts any valid expression."""

import ast
from collections import Counter

import envfoundry

ENV = envfoundry.make("countdown")


def literals(text):
    return [n.value for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Constant)]


def test_planted_solution_uses_given_numbers_and_hits_the_target():
    for level in (0.0, 0.5, 1.0):
        for seed in range(100):
            inst = ENV.sample(seed, level=level)
            state = inst.state
            used = literals(inst.reference)
            assert len(used) == state["used"]
            assert not Counter(used) - Counter(state["numbers"])
            assert state["target"] > 0 and state["target"] not in state["numbers"]
            assert ENV.score_answer(inst, inst.reference).correct


def test_a_different_expression_is_accepted():
    inst = ENV.sample(0, params={"n_numbers": 4, "n_used": 2, "max_value": 10, "operators": "+-*"})
    numbers, target = inst.state["numbers"], inst.state["target"]
    found = []
    ops = "+-*"
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            for op in ops:
                text = f"{a} {op} {b}"
                if i != j and eval(text) == target:  # test-only brute force over tiny inputs
                    found.append(text)
    assert any(f != inst.reference for f in found)
    for text in found:
        assert ENV.score_answer(inst, text).correct


def test_fractions_in_intermediate_steps_are_exact():
    state = {"numbers": [7, 2, 2, 4, 3, 3], "target": 14, "operators": "+-*/", "used": 2, "solution": "7 * 2"}
    inst = envfoundry.Instance("countdown", 1, 0, {}, "", "7 * 2", state)
    assert ENV.score_answer(inst, "7 / 2 * 4").correct
    assert ENV.score_answer(inst, "(7 / 3) * 2 * 3").correct
    assert ENV.score_answer(inst, "-(7 / 3) * (2 - 4) * 3").correct  # unary minus is allowed
    assert ENV.score_answer(inst, "7 / 3 * 2 * 4").reward == 0  # 56/3, no rounding
    assert "division by zero" in ENV.score_answer(inst, "7 / (2 - 2)").reason


def test_rule_violations_are_rejected_with_reasons():
    state = {"numbers": [25, 4, 3, 3], "target": 106, "operators": "+-*", "used": 3, "solution": "25 * 4 + 3 + 3"}
    inst = envfoundry.Instance("countdown", 1, 0, {}, "", state["solution"], state)
    assert ENV.score_answer(inst, "25 * 4 + 3 + 3").correct
    assert ENV.score_answer(inst, "3 + 3 + 4 * 25.").correct
    assert "not given" in ENV.score_answer(inst, "25 * 4 + 6").reason
    assert "not given" in ENV.score_answer(inst, "25 * 4 + 3 + 3 + 3 - 3").reason
    assert "not allowed" in ENV.score_answer(inst, "(25 * 4 * 3 + 18) / 3").reason  # / is not in this set
    assert "allowed" in ENV.score_answer(inst, "25 ** 1 * 4 + 3 + 3").reason
    assert "allowed" in ENV.score_answer(inst, "25 * 4 + 3 + 3 = 106").reason
    assert "allowed" in ENV.score_answer(inst, "__import__('os')").reason
    assert "equals" in ENV.score_answer(inst, "25 * 4 + 3").reason
    assert ENV.score_answer(inst, "25 * 4 + 3 + 3, 25 * 4 + 3 + 3").reward == 0
    assert ENV.score_answer(inst, "25 * 4 + 3 + 3\n25 * 4 + 3 + 3").reward == 0
    assert ENV.score_answer(inst, "(" * 500 + "3" + ")" * 500).reward == 0
    assert ENV.score_answer(inst, "2" * 5000).reward == 0


def test_parameters_change_the_instances():
    easy = [ENV.sample(s, level=0.0).state for s in range(30)]
    hard = [ENV.sample(s, level=1.0).state for s in range(30)]
    assert all(len(s["numbers"]) == 3 and s["used"] == 2 and max(s["numbers"]) <= 10 for s in easy)
    assert all(len(s["numbers"]) == 8 and s["used"] == 6 for s in hard)
    assert all("*" not in ENV.reference(s) for s in easy)
    assert sum("*" in ENV.reference(s) for s in hard) > 15
    assert max(s["target"] for s in hard) > 10 * max(s["target"] for s in easy)
    assert "*" not in ENV.sample(0, level=0.0).prompt.split("Target")[1].split("<answer>")[0]
