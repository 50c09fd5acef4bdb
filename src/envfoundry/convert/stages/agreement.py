"""Conversion stage: the reference is trustworthy before any instance is built on it.

Where a problem has several reference solutions, every one must give the same output on
``DRAWS`` generated inputs (for a problem with several right outputs, every one's output must pass
the validity verifier). Where it has tests (HumanEval's ``check``, or JSONL test cases), the
reference solution must pass all of them. A problem with one solution and no tests passes with
that said in its reason. Everything runs in the probe's sandbox.
"""

from __future__ import annotations

from typing import Any

from envfoundry.convert.problems import Problem
from envfoundry.sandbox import SandboxError
from envfoundry.synth.stages.base import StageReport, timed

NAME = "agreement"
DRAWS = 20
SEEDS = tuple(range(50_000, 50_000 + DRAWS))


def _tests(problem: Problem, env: Any, params: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(why it failed, or None; figures) for the problem's own tests."""
    if not problem.check_source and not problem.tests:
        return None, {"tests": 0}
    instance = env.sample(0, params={**params, "tests": 1, "calls": 1})
    passed, failures = instance.state["tests"]
    figures = {"tests_passed": passed, "tests_failed": len(failures)}
    if failures:
        return f"the reference solution fails the problem's own tests: {failures[0][:200]}", figures
    return None, figures


def _solutions(problem: Problem, env: Any, params: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(why it failed, or None; figures) for the other solutions' outputs on generated inputs."""
    if len(problem.solutions) < 2:
        return None, {"solutions": 1}
    instances = [i for i in env.sample_many(list(SEEDS), params={**params, "tests": 0, "calls": 1}, strict=False)
                 if not isinstance(i, SandboxError)]  # fmt: skip
    if not instances:
        return "no input could be generated to compare the solutions on", {"solutions": len(problem.solutions)}
    for instance in instances:
        for number, other in enumerate(instance.state["others"], start=2):
            if other.startswith("!"):
                return f"solution {number} fails on {instance.state['input'][:80]}: {other[1:200]}", {}
            if problem.answers == "many":
                agrees = env.score_answer(instance, other).correct
            else:
                agrees = other == instance.reference
            if not agrees:
                return (f"solution {number} disagrees with solution 1 on {instance.state['input'][:80]}: "
                        f"{other[:60]} vs {instance.reference[:60]}"), {}  # fmt: skip
    return None, {"solutions": len(problem.solutions), "inputs_compared": len(instances)}


def run(problem: Problem, env: Any, params: dict[str, Any]) -> StageReport:
    """``params``: the probe's parameters to draw at (the examples' own scale)."""

    def body() -> StageReport:
        figures: dict[str, Any] = {}
        for check in (_tests, _solutions):
            try:
                failure, found = check(problem, env, params)
            except SandboxError as exc:
                return StageReport(NAME, False, f"the reference failed in the sandbox: {exc}", figures)
            figures.update(found)
            if failure:
                return StageReport(NAME, False, failure, figures)
        if figures.get("tests", 1) == 0 and figures.get("solutions") == 1:
            return StageReport(NAME, True, "one solution and no tests: nothing to compare it with", figures)
        parts = []
        if "tests_passed" in figures:
            parts.append("the reference passes the problem's tests")
        if figures.get("solutions", 1) > 1:
            parts.append(f"{figures['solutions']} solutions agree on {figures['inputs_compared']} inputs")
        return StageReport(NAME, True, "; ".join(parts), figures)

    return timed(NAME, body)
