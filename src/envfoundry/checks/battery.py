"""The battery every environment passes, in the spirit of scikit-learn's ``check_estimator``.

Seed environments pass it in the test suite; synthesized environments must pass the same checks
(the execution stage of validation runs them). Each check returns a ``CheckResult`` with a reason
and the figures it measured, so a failure says exactly what went wrong.

``call_in_subprocess`` is the one way envfoundry runs work in a fresh interpreter: the cross-process
determinism check samples there, and vetting reasoning-gym's datasets vets each one there.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envfoundry.core.answer import parse_int, split_tokens, wrap_answer
from envfoundry.core.environment import Environment, Instance, contract_errors
from envfoundry.errors import EnvfoundryError
from envfoundry.resolve import make

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Answers of the wrong shape or type: none of them may ever earn full reward.
MALFORMED_ANSWERS = (
    "",
    " ",
    "banana",
    "None",
    "null",
    "{}",
    "[[",
    "<answer>",
    "NaN",
    "1e999",
    "\x00",
    "\u2603",
    "yes",
    "the answer is unknowable",
)
# Share of generic perturbations allowed to stay correct: swapping two independent moves or two
# unrelated items in an ordering can leave an answer right, but most perturbations must break it.
MAX_PERTURBED_ACCEPT = 0.2
# Share of other instances' references allowed to be right by coincidence.
MAX_OTHER_ACCEPT = 0.1
LEAK_MIN_CHARS = 8
SAMPLE_BUDGET_S = 0.05
# Marks the child's result on its stdout: the work it runs may print there too.
_RESULT_MARK = "@@envfoundry-result@@ "


class SubprocessFailed(EnvfoundryError, RuntimeError):
    """Work sent to a fresh interpreter exited with an error or without a result."""


@dataclass
class CheckResult:
    name: str
    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "reason": self.reason, **self.figures}


def perturbations(reference: str, rng: random.Random, count: int = 8) -> list[str]:
    """Generic near-misses of a reference: changed digits, swapped, dropped, duplicated tokens and
    characters. Results equal to the reference are left out."""
    out: list[str] = []
    number = parse_int(reference)
    if number is not None:
        out += [str(number + 1), str(number - 1), str(number * 2 + 1), str(-number - 1)]
    tokens = split_tokens(reference)
    sep = "\n" if "\n" in reference.strip() else " "
    attempts = 0
    while len(out) < count + 4 and attempts < 60:
        attempts += 1
        kind = rng.randrange(6)
        if kind == 0 and len(tokens) >= 2:  # swap two tokens
            i, j = rng.sample(range(len(tokens)), 2)
            changed = list(tokens)
            changed[i], changed[j] = changed[j], changed[i]
            out.append(sep.join(changed))
        elif kind == 1 and len(tokens) >= 2:  # drop a token
            changed = list(tokens)
            del changed[rng.randrange(len(changed))]
            out.append(sep.join(changed))
        elif kind == 2 and tokens:  # duplicate a token
            changed = list(tokens)
            i = rng.randrange(len(changed))
            changed.insert(i, changed[i])
            out.append(sep.join(changed))
        elif kind == 3:  # change one digit
            digits = [i for i, ch in enumerate(reference) if ch.isdigit()]
            if digits:
                i = rng.choice(digits)
                new = str((int(reference[i]) + rng.randint(1, 9)) % 10)
                out.append(reference[:i] + new + reference[i + 1 :])
        elif kind == 4 and len(reference) >= 1:  # change one non-space character to another seen one
            positions = [i for i, ch in enumerate(reference) if not ch.isspace()]
            alphabet = sorted(set(reference) - set(" \n\t"))
            if positions and len(alphabet) >= 2:
                i = rng.choice(positions)
                new = rng.choice([ch for ch in alphabet if ch != reference[i]])
                out.append(reference[:i] + new + reference[i + 1 :])
        elif kind == 5 and len(reference) >= 2:  # cut the end off
            out.append(reference[: rng.randrange(1, len(reference))])
    seen, unique = {reference.strip()}, []
    for candidate in out:
        if candidate.strip() not in seen:
            seen.add(candidate.strip())
            unique.append(candidate)
    return unique[:count]


def _samples(env: Environment, seeds: Sequence[int], levels: Sequence[float]) -> dict[float, list[Instance]]:
    return {level: env.sample_many(list(seeds), level=level) for level in levels}


def check_contract(env: Environment) -> CheckResult:
    # A sandboxed environment was checked against the contract in its worker, when it loaded.
    errors = contract_errors(type(env)) if isinstance(env, Environment) else []
    if errors:
        return CheckResult("contract", False, "; ".join(errors))
    try:
        schema = env.parameter_space.json_schema()
        json.dumps(schema)
    except Exception as exc:  # noqa: BLE001
        return CheckResult("contract", False, f"parameter space does not export JSON Schema: {exc}")
    if len(env.parameter_space) < 1:
        return CheckResult("contract", False, "the parameter space has no dimensions")
    return CheckResult(
        "contract", True, "class attributes and methods present", {"dimensions": len(schema["properties"])}
    )


def check_references(env: Environment, samples: dict[float, list[Instance]]) -> CheckResult:
    """The reference scores 1.0 at every level, also after a JSON round trip; prompts state the
    answer convention."""
    instances = [(level, instance) for level, batch in samples.items() for instance in batch]
    for _, instance in instances:
        if "<answer>" not in instance.prompt:
            return CheckResult("reference", False, f"the prompt of seed {instance.seed} does not show the <answer> tags")
    copies = [Instance.from_json(json.dumps(instance.to_dict())) for _, instance in instances]
    everything = [instance for _, instance in instances] + copies
    verdicts = env.score_many(everything, [wrap_answer(instance.reference) for instance in everything])
    for (level, instance), verdict in zip(instances, verdicts, strict=False):
        if not verdict.correct:
            return CheckResult(
                "reference",
                False,
                f"the reference of seed {instance.seed} at level {level} scored {verdict.reward} ({verdict.reason})",
            )
    for (level, instance), verdict in zip(instances, verdicts[len(instances) :], strict=True):
        if not verdict.correct:
            return CheckResult(
                "reference", False, f"seed {instance.seed} at level {level} stops scoring 1.0 after a JSON round trip"
            )
    return CheckResult("reference", True, f"all {len(instances)} references score 1.0", {"instances": len(instances)})


def check_determinism(env: Environment, seeds: Sequence[int]) -> CheckResult:
    """Same inputs give the same instance; different seeds give different instances."""
    distinct = set()
    for level in (0.0, 1.0):
        firsts, seconds = env.sample_many(list(seeds), level=level), env.sample_many(list(seeds), level=level)
        for seed, first, second in zip(seeds, firsts, seconds, strict=True):
            if first.to_json() != second.to_json():
                return CheckResult("determinism", False, f"seed {seed} at level {level} gave two different instances")
            if level == 1.0:
                distinct.add(first.prompt)
    if len(seeds) >= 4 and len(distinct) < len(seeds) // 2:
        return CheckResult(
            "determinism", False, f"only {len(distinct)} distinct prompts from {len(seeds)} seeds at level 1"
        )
    return CheckResult(
        "determinism", True, "repeatable under a seed, varied across seeds", {"distinct_prompts": len(distinct)}
    )


def call_in_subprocess(target: str, argument: Any, timeout_s: float = 300.0) -> Any:
    """Call ``target`` (``"package.module:function"``, a module-level function) with one JSON
    argument in a fresh interpreter with another hash seed, and return its JSON result.

    What the function prints goes to the child's stderr, so the result is the last marked line of its
    stdout. A child that exits with an error or without a result raises ``SubprocessFailed``; one
    that runs past ``timeout_s`` raises ``subprocess.TimeoutExpired``.
    """
    code = (
        "import contextlib, importlib, json, sys\n"
        "module, _, function = sys.argv[1].partition(':')\n"
        "argument = json.loads(sys.stdin.read())\n"
        "with contextlib.redirect_stdout(sys.stderr):\n"
        "    result = getattr(importlib.import_module(module), function)(argument)\n"
        f"print({_RESULT_MARK!r} + json.dumps(result), flush=True)\n"
    )
    environ = dict(os.environ, PYTHONHASHSEED=str(random.randrange(1, 2**31)))
    result = subprocess.run(
        [sys.executable, "-c", code, target],
        input=json.dumps(argument),
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout_s,
        check=False,
    )
    marked = [line for line in result.stdout.splitlines() if line.startswith(_RESULT_MARK)]
    if result.returncode != 0 or not marked:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        raise SubprocessFailed(f"the child process failed: {tail[0]}")
    return json.loads(marked[-1][len(_RESULT_MARK) :])


def sample_as_json(job: Sequence[Any]) -> list[str]:
    """``[spec, [[seed, level], ...]]`` -> each instance as JSON (what ``sample_in_subprocess``'s
    child runs). ``spec`` is resolved by ``envfoundry.make``, as a user's name or path would be."""
    spec, requests = job
    env = make(spec)
    return [env.sample(seed, level=level).to_json() for seed, level in requests]


def sample_in_subprocess(spec: str, requests: Sequence[tuple[int, float]], timeout_s: float = 300.0) -> list[str]:
    """Sample ``(seed, level)`` requests in a fresh interpreter (different hash seed) and return each
    instance as JSON.

    ``spec`` is what ``envfoundry.make`` takes: a registered name (``rg:<dataset>`` too) or a path to
    a module file.
    """
    return call_in_subprocess("envfoundry.checks.battery:sample_as_json", [spec, [list(r) for r in requests]], timeout_s)


def check_determinism_across_processes(env: Environment, spec: str, seeds: Sequence[int]) -> CheckResult:
    requests = [(seed, level) for seed in seeds for level in (0.0, 0.5, 1.0)]
    here = [env.sample(seed, level=level).to_json() for seed, level in requests]
    there = sample_in_subprocess(spec, requests)
    for (seed, level), mine, theirs in zip(requests, here, there, strict=True):
        if mine != theirs:
            return CheckResult(
                "determinism_across_processes", False, f"seed {seed} at level {level} differs in another process"
            )
    return CheckResult("determinism_across_processes", True, f"{len(requests)} instances identical in a fresh process")


def check_wrong_answers(env: Environment, samples: dict[float, list[Instance]], rng_seed: int = 0) -> CheckResult:
    """Empty, malformed, perturbed, other-instance and shotgun answers do not score 1.0.

    Every response is built first and scored in one batch (one round trip per sandbox worker).
    """
    rng = random.Random(rng_seed)
    # (kind, level, instance, response, detail)
    trials: list[tuple[str, float, Instance, str, str]] = []
    for level, instances in samples.items():
        for index, instance in enumerate(instances):
            reference = instance.reference.strip()
            for bad in MALFORMED_ANSWERS:
                if bad.strip() != reference:
                    trials.append(("malformed", level, instance, wrap_answer(bad), bad))
            trials.append(("untagged", level, instance, instance.reference, ""))
            near = perturbations(instance.reference, rng)
            trials += [("perturbed", level, instance, wrap_answer(candidate), candidate) for candidate in near]
            other = instances[(index + 1) % len(instances)]
            if other.reference.strip() != reference:
                trials.append(("other", level, instance, wrap_answer(other.reference), ""))
            # A shotgun lists many candidates at once, the right one among them.
            decoys = [o.reference for o in instances if o.reference.strip() != reference][:3] + near[:3]
            if decoys:
                for sep in (" ", "\n", " or ", ", "):
                    for shotgun in (sep.join([instance.reference, *decoys]), sep.join([*decoys, instance.reference])):
                        trials.append(("shotgun", level, instance, wrap_answer(shotgun), str(len(decoys) + 1)))
    verdicts = env.score_many([t[2] for t in trials], [t[3] for t in trials])
    counts = {"perturbed": [0, 0], "other": [0, 0]}
    for (kind, level, instance, _, detail), verdict in zip(trials, verdicts, strict=True):
        where = f"seed {instance.seed}, level {level}"
        if kind == "malformed" and verdict.correct:
            return CheckResult("wrong_answers", False, f"malformed answer {detail!r} scored 1.0 ({where})")
        if kind == "untagged" and verdict.reward > 0:
            return CheckResult("wrong_answers", False, "a response without <answer> tags earned reward")
        if kind == "shotgun" and verdict.correct:
            return CheckResult(
                "wrong_answers", False, f"a shotgun answer listing {detail} candidates scored 1.0 ({where})"
            )
        if kind in counts:
            counts[kind][0] += 1
            counts[kind][1] += verdict.correct
    perturbed_total, perturbed_accepted = counts["perturbed"]
    other_total, other_accepted = counts["other"]
    figures = {
        "perturbed_accept_rate": perturbed_accepted / max(perturbed_total, 1),
        "other_accept_rate": other_accepted / max(other_total, 1),
        "perturbed_tried": perturbed_total,
    }
    if perturbed_total and figures["perturbed_accept_rate"] > MAX_PERTURBED_ACCEPT:
        return CheckResult(
            "wrong_answers",
            False,
            f"{figures['perturbed_accept_rate']:.0%} of perturbed references still scored 1.0",
            figures,
        )
    if other_total and figures["other_accept_rate"] > MAX_OTHER_ACCEPT:
        return CheckResult(
            "wrong_answers",
            False,
            f"{figures['other_accept_rate']:.0%} of other instances' references scored 1.0",
            figures,
        )
    return CheckResult(
        "wrong_answers", True, "malformed, perturbed, other-instance and shotgun answers rejected", figures
    )


def check_no_leak(env: Environment, samples: dict[float, list[Instance]]) -> CheckResult:
    """The prompt never contains a reference longer than a few characters verbatim."""
    for level, instances in samples.items():
        for instance in instances:
            reference = instance.reference.strip()
            if len(reference) < LEAK_MIN_CHARS:
                continue
            squashed_prompt = "".join(instance.prompt.split())
            if reference in instance.prompt or "".join(reference.split()) in squashed_prompt:
                return CheckResult(
                    "no_leak", False, f"the prompt of seed {instance.seed} at level {level} contains the reference"
                )
    return CheckResult("no_leak", True, "no prompt contains its reference")


def check_difficulty_grows(env: Environment, samples: dict[float, list[Instance]]) -> CheckResult:
    """Mean measured complexity never falls as the level rises, and level 1 exceeds level 0."""
    means = {
        level: statistics.fmean(i.metadata["complexity"] for i in instances) for level, instances in samples.items()
    }
    levels = sorted(means)
    figures = {"complexity_by_level": {str(level): round(means[level], 3) for level in levels}}
    for low, high in itertools.pairwise(levels):
        if means[high] < means[low] - 1e-9:
            return CheckResult("difficulty_grows", False, f"complexity falls from level {low} to {high}", figures)
    if means[levels[-1]] <= means[levels[0]]:
        return CheckResult("difficulty_grows", False, "complexity is the same at the lowest and highest level", figures)
    return CheckResult("difficulty_grows", True, "complexity rises with level", figures)


def check_sample_time(env: Environment, seeds: Sequence[int], budget_s: float = SAMPLE_BUDGET_S) -> CheckResult:
    """Sampling at level 1 stays within the per-instance budget (median over seeds)."""
    times = env.time_samples(list(seeds), level=1.0)
    median, worst = statistics.median(times), max(times)
    figures = {"median_ms": round(median * 1000, 3), "max_ms": round(worst * 1000, 3)}
    if median > budget_s:
        return CheckResult(
            "sample_time",
            False,
            f"median sampling time at level 1 is {median * 1000:.1f} ms (> {budget_s * 1000:.0f} ms)",
            figures,
        )
    return CheckResult("sample_time", True, f"median {median * 1000:.2f} ms at level 1", figures)


def check_environment(
    env: Environment,
    seeds: Sequence[int] = tuple(range(16)),
    levels: Sequence[float] = LEVELS,
    spec: str | None = None,
) -> list[CheckResult]:
    """Run the whole battery; ``spec`` (a name or file path) adds the cross-process check.

    A check that raises is reported as failed with the exception, never propagated.
    """
    results = [check_contract(env)]
    if not results[0].passed:
        return results
    try:
        samples = _samples(env, seeds, levels)
    except Exception as exc:  # noqa: BLE001
        return results + [CheckResult("sample", False, f"sampling raised {type(exc).__name__}: {exc}")]
    # (the name its result carries, the check, what it is given): a check that raises is reported
    # under that name.
    steps: list[tuple[str, Callable[..., CheckResult], tuple[Any, ...]]] = [
        ("reference", check_references, (env, samples)),
        ("determinism", check_determinism, (env, seeds)),
        ("wrong_answers", check_wrong_answers, (env, samples)),
        ("no_leak", check_no_leak, (env, samples)),
        ("difficulty_grows", check_difficulty_grows, (env, samples)),
        ("sample_time", check_sample_time, (env, seeds)),
    ]
    if spec is not None:
        steps.append(("determinism_across_processes", check_determinism_across_processes, (env, spec, seeds[:4])))
    for name, check, arguments in steps:
        try:
            results.append(check(*arguments))
        except Exception as exc:  # noqa: BLE001
            results.append(CheckResult(name, False, f"raised {type(exc).__name__}: {exc}"))
    return results
