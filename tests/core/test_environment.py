import json
import random

import pytest

from envfoundry import Environment, Instance, IntParam, Score, Verdict
from envfoundry.core import contract_errors


def test_sampling_is_a_pure_function_of_seed_and_params(toy):
    a, b = toy.sample(3, level=0.7), toy.sample(3, level=0.7)
    assert a == b
    assert toy.sample(4, level=0.7).state != a.state
    assert toy.sample(3, level=0.7, params={"n": 2}).params["n"] == 2
    # The global random module is neither used nor disturbed.
    random.seed(1)
    before = random.random()
    random.seed(1)
    toy.sample(0)
    assert random.random() == before


def test_instance_records_what_was_sampled_and_round_trips(toy):
    instance = toy.sample(11, level=1.0)
    assert instance.env == "toy_sum" and instance.version == 1 and instance.seed == 11 and instance.level == 1.0
    assert instance.params == {"n": 30, "max_value": 1000}
    assert len(instance.state["numbers"]) == 30
    assert instance.metadata["complexity"] == 30 * max(instance.state["numbers"])
    copy = Instance.from_json(json.dumps(instance.to_dict()))
    assert copy == instance
    assert toy.sample(11, params={"n": 3}).level is None


def test_bad_sampling_input_is_one_clear_error(toy):
    with pytest.raises(ValueError, match="seed must be an integer"):
        toy.sample("3")
    with pytest.raises(ValueError, match="level must be in"):
        toy.sample(0, level=2)
    with pytest.raises(ValueError, match="unknown parameter 'size'"):
        toy.sample(0, params={"size": 3})
    with pytest.raises(ValueError, match="missing field"):
        Instance.from_dict({"env": "toy_sum"})
    with pytest.raises(ValueError, match="not valid JSON"):
        Instance.from_json("{")


def test_score_extracts_the_last_answer_and_reports_format(toy):
    instance = toy.sample(0)
    right = instance.reference
    verdict = toy.score(instance, f"<answer>0</answer> on reflection <answer>{right}</answer>")
    assert verdict.reward == 1.0 and verdict.correct and verdict.format_ok and verdict.answer == right
    assert verdict.metadata == {"value": int(right)}
    wrong = toy.score(instance, f"<answer>{right}</answer> no, <answer>{int(right) + 1}</answer>")
    assert wrong.reward == 0.0 and not wrong.correct and wrong.format_ok
    missing = toy.score(instance, right)
    assert missing.reward == 0.0 and not missing.format_ok and "no <answer>" in missing.reason
    assert toy.score(instance, None).reward == 0.0
    assert toy.score_answer(instance, f" {right} ").correct
    assert toy.score(instance.to_dict(), f"<answer>{right}</answer>").correct


def test_scoring_another_environments_instance_is_a_caller_error(toy):
    instance = toy.sample(0)
    instance.env = "other"
    with pytest.raises(ValueError, match="belongs to environment 'other'"):
        toy.score(instance, "<answer>1</answer>")


class Misbehaving(Environment):
    """Returns whatever the state tells it to, to test how verdicts are guarded."""

    name = "misbehaving"
    asymmetry = "planted"
    space = {"n": IntParam(1, 2)}

    def generate(self, rng, n):
        return {"n": n}

    def prompt(self, state):
        return "Say anything. <answer>x</answer>"

    def reference(self, state):
        return "x"

    def verify(self, state, answer):
        if answer == "raise":
            raise KeyError("boom")
        return {
            "true": True,
            "false": False,
            "big": 1.5,
            "neg": -0.1,
            "nan": float("nan"),
            "half": Score(0.5, "half way"),
            "str": "1.0",
        }[answer]


@pytest.mark.parametrize(
    ("answer", "reward", "reason"),
    [
        ("true", 1.0, "correct"),
        ("false", 0.0, "incorrect"),
        ("half", 0.5, "half way"),
        ("raise", 0.0, "verify raised KeyError"),
        ("big", 0.0, "outside [0, 1]"),
        ("neg", 0.0, "outside [0, 1]"),
        ("nan", 0.0, "outside [0, 1]"),
        ("str", 0.0, "expected a number"),
    ],
)
def test_verify_results_are_normalised_and_never_raise(answer, reward, reason):
    env = Misbehaving()
    verdict = env.score(env.sample(0), f"<answer>{answer}</answer>")
    assert verdict.reward == reward
    assert reason in verdict.reason
    assert verdict.correct == (reward == 1.0)


def test_overlong_answers_are_rejected_unread():
    env = Misbehaving()
    verdict = env.score(env.sample(0), "<answer>" + "true" * 100_000 + "</answer>")
    assert verdict.reward == 0.0 and "longer than" in verdict.reason


class Classifying(Misbehaving):
    """Gives its own failure classes, well formed and not."""

    name = "classifying"

    def verify(self, state, answer):
        return {"own": Score(0.0, "fell", failure="fell_in"), "bad": Score(0.25, "x", failure="Not A Class"),
                "legacy": Score(0.0, "old", {"failure": "parse_error"}), "right": Score(1.0, failure="fell_in"),
                }.get(answer) or super().verify(state, answer)  # fmt: skip


@pytest.mark.parametrize(
    ("response", "failure"),
    [
        ("no answer block at all", "unparseable"),
        ("<answer>" + "x" * 200_001 + "</answer>", "unparseable"),
        ("<answer>false</answer>", "wrong"),
        ("<answer>half</answer>", "wrong"),  # partial credit is still a failure to be fully right
        ("<answer>raise</answer>", "verifier_error"),
        ("<answer>nan</answer>", "verifier_error"),
        ("<answer>own</answer>", "fell_in"),
        ("<answer>bad</answer>", "wrong"),  # not a lowercase identifier: the default class
        ("<answer>legacy</answer>", "unparseable"),  # metadata["failure"], as environments wrote it before
        ("<answer>right</answer>", None),
        ("<answer>true</answer>", None),
    ],
)
def test_every_verdict_carries_a_failure_class(response, failure):
    env = Classifying()
    verdict = env.score(env.sample(0), response)
    assert verdict.failure == failure
    assert verdict.to_dict()["failure"] == failure
    if failure == "fell_in":  # kept in the metadata too, which a sandbox worker sends back
        assert verdict.metadata["failure"] == "fell_in"


def test_a_verdict_made_without_a_class_derives_one():
    assert Verdict(0.0, False, False, None, "no block").failure == "unparseable"
    assert Verdict(0.0, False, True, "7", "incorrect").failure == "wrong"
    assert Verdict(0.0, False, True, "7", "x", {"failure": "hole_collision"}).failure == "hole_collision"
    assert Verdict(1.0, True, True, "7", "correct", failure="wrong").failure is None


def test_contract_errors_name_each_problem():
    class Broken(Environment):
        name = "Bad Name"
        asymmetry = "easy"
        space = {"n": "big"}

        def generate(self, rng, n):
            return {}

    errors = " | ".join(contract_errors(Broken))
    for fragment in [
        "lowercase identifier",
        "'algorithmic' or 'planted'",
        "must be an IntParam",
        "docstring",
        "must define prompt()",
        "must define reference()",
        "must define verify()",
    ]:
        assert fragment in errors
    with pytest.raises(TypeError, match="lowercase identifier"):
        Broken()
    assert contract_errors(int) == ["<class 'int'> is not a subclass of envfoundry.Environment"]


def test_description_is_the_docstring(toy):
    assert toy.description.startswith("Add up a list of numbers.")


def test_memoised_parameters_still_validate_every_call(toy):
    assert toy.sample(0, level=1).params == toy.sample(0, level=1.0).params
    with pytest.raises(ValueError, match="level must be a number"):
        toy.sample(0, level=True)
    toy.sample(0, params={"n": 1 + 1})
    with pytest.raises(ValueError, match="must be an integer"):
        toy.sample(0, params={"n": True})
    with pytest.raises(ValueError, match="must be an integer"):
        toy.sample(0, params={"n": [2]})
    first = toy.sample(0, params={"n": 3})
    first.params["n"] = 99  # mutating one instance never leaks into the next
    assert toy.sample(1, params={"n": 3}).params["n"] == 3
