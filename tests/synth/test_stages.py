"""The validation stages one by one; the model stages with scripted chat models (a unit-test double
for the model only: the environment, the sandbox and the scoring are real)."""

from __future__ import annotations

import inspect
import re

import pytest

from envfoundry.core import get_class
from envfoundry.envs import seed_names
from envfoundry.synth.pipeline import STAGE_NAMES, validate
from envfoundry.synth.stages import calibration, execution, review, static
from envfoundry.synth.stages.base import Candidate, Context

ECHO = '''
from envfoundry import Environment, IntParam, answer_instruction
from envfoundry.core import parse_int


class Echo(Environment):
    """Repeat a number back."""

    name = "echo_number"
    asymmetry = "algorithmic"
    space = {"digits": IntParam(1, 40)}

    def generate(self, rng, digits):
        return {"value": rng.randrange(10 ** (digits - 1), 10 ** digits)}

    def prompt(self, state):
        return f"Repeat the number {state['value']:_} without underscores. " + answer_instruction("12")

    def reference(self, state):
        return str(state["value"])

    def verify(self, state, answer):
        return parse_int(answer) == state["value"]

    def complexity(self, state):
        return float(len(str(state["value"])))
'''


def _seed_source(name: str) -> str:
    with open(inspect.getsourcefile(get_class(name)), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("name", seed_names())
def test_every_seed_passes_static_and_execution(name):
    candidate = Candidate(_seed_source(name), filename=f"{name}.py")
    context = Context()
    assert static.run(candidate, context).passed
    try:
        report = execution.run(candidate, context)
    finally:
        if context.env is not None:
            context.env.close()
    assert report.passed, report.reason
    assert set(report.figures["checks"]) >= {"reference", "wrong_answers", "nontrivial", "determinism_across_processes"}


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("x = (\n", "syntax error"),
        ("import os\n" + ECHO, "imports 'os'"),
        (ECHO.replace("    def verify(self, state, answer):\n        return parse_int(answer) == state[\"value\"]\n", ""),
         "missing method(s) verify"),
        (ECHO.replace('"""Repeat a number back."""', ""), "needs a docstring"),
        (ECHO.replace('name = "echo_number"', 'name = "Echo Number"'), "lowercase identifier"),
        (ECHO + ECHO.replace("class Echo", "class Echo2"), "exactly one Environment subclass, found 2"),
        ("#" * (static.MAX_BYTES + 1), "over 65536"),
    ],
)
def test_static_rejections_say_why(source, fragment):
    report = static.run(Candidate(source), Context())
    assert not report.passed and fragment in report.reason


def test_review_needs_explicit_accepts_and_any_reject_kills(scripted_chat):
    assert review.parse_verdict("looks fine\nVERDICT: ACCEPT") == "accept"
    assert review.parse_verdict("VERDICT: accept ... VERDICT: **REJECT**: the prompt leaks") == "reject"
    assert review.parse_verdict("I think it is good") == "abstain"
    candidate = Candidate(ECHO)
    for replies, passed, fragment in [
        (["VERDICT: ACCEPT"] * 3, True, "3 of 3 reviews accepted"),
        (["VERDICT: ACCEPT", "VERDICT: ACCEPT", "VERDICT: REJECT: verify is lenient"], False, "verify is lenient"),
        (["VERDICT: ACCEPT", "hmm", "no idea"], False, "only 1 of 3 reviews accepted"),
    ]:
        answers = iter(replies)
        model = scripted_chat(lambda messages, answers=answers: next(answers))
        context = Context(generator=model)
        assert execution.run(candidate, context).passed
        report = review.run(candidate, context)
        context.env.close()
        assert report.passed is passed and fragment in report.reason, report.reason
        shown = model.seen[0][-1]["content"]
        assert "class Echo(Environment)" in shown and "REFERENCE ANSWER:" in shown and "VERDICT" in shown


def _solver(max_digits: int):
    """Repeats the number right when it has at most ``max_digits`` digits, else drops the last one."""

    def reply(messages):
        number = re.search(r"number ([\d_]+)", messages[-1]["content"]).group(1).replace("_", "")
        return f"<answer>{number if len(number) <= max_digits else number[:-1]}</answer>"

    return reply


def test_calibration_admits_only_a_pass_rate_strictly_between_0_and_1(scripted_chat):
    candidate = Candidate(ECHO)
    outcomes = {}
    for max_digits in (0, 12, 99):
        context = Context(solver=scripted_chat(_solver(max_digits)), calibration_per_level=6)
        assert execution.run(candidate, context).passed
        outcomes[max_digits] = calibration.run(candidate, context)
        context.env.close()
    assert not outcomes[0].passed and "solved nothing at any level" in outcomes[0].reason
    assert not outcomes[99].passed and "solved everything" in outcomes[99].reason
    curve = {float(k): v for k, v in outcomes[12].figures["curve"].items()}
    assert outcomes[12].passed and curve[0.0] == 1.0 and curve[1.0] == 0.0
    assert 0.0 < outcomes[12].figures["target_level"] < 1.0


def test_target_level_interpolates_the_curve():
    assert calibration.target_level({0.0: 1.0, 0.5: 0.5, 1.0: 0.1}) == pytest.approx(0.75)
    assert calibration.target_level({0.0: 0.2, 1.0: 0.0}) == 0.0


def test_model_stages_are_skipped_without_models_and_the_pipeline_records_it():
    result = validate(Candidate(ECHO))
    assert [r.name for r in result.reports] == list(STAGE_NAMES)
    assert [r.skipped for r in result.reports] == [False, False, False, True, True]
    assert result.admitted and result.info["description"] == "Repeat a number back."
    assert result.to_dict()["stages"][3]["reason"] == "skipped: no generator model given"
