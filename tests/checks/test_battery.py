"""The battery must catch each kind of unsound environment, or it proves nothing about the seeds."""

import random
import textwrap

import pytest

from envfoundry import IntParam
from envfoundry.checks.battery import (
    SubprocessFailed,
    call_in_subprocess,
    check_determinism,
    check_determinism_across_processes,
    check_difficulty_grows,
    check_environment,
    check_no_leak,
    check_references,
    check_wrong_answers,
    perturbations,
)
from envfoundry.core import parse_int
from envfoundry.errors import EnvfoundryError

SEEDS = range(12)
LEVELS = (0.0, 0.5, 1.0)


def samples(env):
    return {level: [env.sample(seed, level=level) for seed in SEEDS] for level in LEVELS}


def test_a_sound_environment_passes_every_check(toy):
    results = check_environment(toy, seeds=SEEDS)
    assert all(r.passed for r in results), [r.to_dict() for r in results if not r.passed]
    assert {r.name for r in results} >= {"reference", "wrong_answers", "no_leak", "difficulty_grows", "sample_time"}


def variant(base, **overrides):
    return type(f"Variant_{overrides.get('name', 'x')}", (base,), {"__doc__": "A broken variant.", **overrides})


def test_a_wrong_reference_is_caught(toy):
    Wrong = variant(type(toy), name="wrong_ref", reference=lambda self, state: str(sum(state["numbers"]) + 1))
    result = check_references(Wrong(), samples(Wrong()))
    assert not result.passed and "scored 0.0" in result.reason


def test_an_always_true_verifier_is_caught(toy):
    Lenient = variant(type(toy), name="lenient", verify=lambda self, state, answer: True)
    result = check_wrong_answers(Lenient(), samples(Lenient()))
    assert not result.passed and "malformed answer" in result.reason


def test_a_substring_verifier_is_caught_by_the_shotgun(toy):
    def contains(self, state, answer):
        return str(sum(state["numbers"])) in answer.split()

    Substring = variant(type(toy), name="substring", verify=contains)
    result = check_wrong_answers(Substring(), samples(Substring()))
    assert not result.passed and "shotgun" in result.reason


def test_an_off_by_one_tolerant_verifier_is_caught_by_perturbations(toy):
    def tolerant(self, state, answer):
        value = parse_int(answer)
        return value is not None and abs(value - sum(state["numbers"])) <= 1

    Tolerant = variant(type(toy), name="tolerant", verify=tolerant)
    result = check_wrong_answers(Tolerant(), samples(Tolerant()))
    assert not result.passed and "perturbed" in result.reason


def test_a_leaking_prompt_is_caught(toy):
    Leaky = variant(
        type(toy),
        name="leaky",
        space={"n": IntParam(2, 30), "max_value": IntParam(10**8, 10**9)},
        prompt=lambda self, state: f"Add {state['numbers']} (it is {sum(state['numbers'])}). <answer>1</answer>",
    )
    result = check_no_leak(Leaky(), samples(Leaky()))
    assert not result.passed and "contains the reference" in result.reason


def test_flat_difficulty_is_caught(toy):
    Flat = variant(type(toy), name="flat", complexity=lambda self, state: 1.0)
    result = check_difficulty_grows(Flat(), samples(Flat()))
    assert not result.passed and "same at the lowest and highest" in result.reason


def test_a_constant_environment_is_caught(toy):
    Constant = variant(type(toy), name="constant", generate=lambda self, rng, n, max_value: {"numbers": [1, 2]})
    result = check_determinism(Constant(), SEEDS)
    assert not result.passed and "distinct prompts" in result.reason


def test_global_randomness_is_caught_across_processes(tmp_path):
    path = tmp_path / "noisy.py"
    path.write_text(
        textwrap.dedent('''
        import random
        from envfoundry import Environment, IntParam

        class Noisy(Environment):
            """Uses the global random module: not reproducible."""
            name = "noisy"
            asymmetry = "algorithmic"
            space = {"n": IntParam(1, 10**9)}

            def generate(self, rng, n):
                return {"value": random.randint(0, n)}

            def prompt(self, state):
                return "Say the number. <answer>1</answer>"

            def reference(self, state):
                return str(state["value"])

            def verify(self, state, answer):
                return answer == str(state["value"])
    ''')
    )
    import envfoundry

    result = check_determinism_across_processes(envfoundry.make(str(path)), str(path), [0, 1])
    assert not result.passed and "differs in another process" in result.reason


def test_a_crashing_generator_is_reported_not_raised(toy):
    def crash(self, rng, n, max_value):
        if n > 20:
            raise ZeroDivisionError("level too high")
        return {"numbers": [1] * n}

    Crashy = variant(type(toy), name="crashy", generate=crash)
    results = check_environment(Crashy(), seeds=SEEDS)
    assert not results[-1].passed and "ZeroDivisionError" in results[-1].reason


def test_a_check_that_raises_is_reported_under_its_own_name(toy):
    def broken_timer(self, seeds, level=None):
        raise OSError("no clock")

    Untimed = variant(type(toy), name="untimed", time_samples=broken_timer)
    results = check_environment(Untimed(), seeds=SEEDS)
    failed = [r for r in results if not r.passed]
    assert [(r.name, r.reason) for r in failed] == [("sample_time", "raised OSError: no clock")]
    assert [r.name for r in results] == [
        "contract", "reference", "determinism", "wrong_answers", "no_leak", "difficulty_grows", "sample_time"
    ]  # fmt: skip


def test_a_fresh_interpreter_returns_the_result_past_what_the_work_prints():
    # print writes to the child's stdout, where the result travels too, and returns None.
    assert call_in_subprocess("builtins:print", "noise on stdout") is None
    assert call_in_subprocess("builtins:sorted", [3, 1, 2]) == [1, 2, 3]
    # Another hash seed: string hashes differ from this process's (equal by chance once in 2**61).
    assert call_in_subprocess("builtins:hash", "envfoundry") != hash("envfoundry")


def test_a_failing_child_is_one_envfoundry_error():
    with pytest.raises(SubprocessFailed, match="the child process failed: ValueError: invalid literal") as info:
        call_in_subprocess("builtins:int", "not a number")
    assert isinstance(info.value, EnvfoundryError) and isinstance(info.value, RuntimeError)


def test_perturbations_differ_from_the_reference():
    rng = random.Random(0)
    for reference in ["17", "RRDDL", "1 -2 3 -4", "1 2 3\n3 1 2\n2 3 1"]:
        near = perturbations(reference, rng)
        assert near and all(p.strip() != reference for p in near)
    assert {"18", "16"} <= set(perturbations("17", rng))
