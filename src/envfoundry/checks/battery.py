"""The battery every environment passes, in the spirit of scikit-learn's ``check_estimator``.

Seed environments pass it in the test suite; synthesized environments must pass the same checks
(the execution stage of validation runs them). Each check returns a ``CheckResult`` with a reason
and the figures it measured, so a failure says exactly what went wrong.

``call_in_subprocess`` is the one way envfoundry runs work in a fresh interpreter: the cross-process
determinism check samples there, and vetting reasoning-gym's datasets vets each one there.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envfoundry.core.answer import parse_int, shows_answer, split_tokens, wrap_answer
from envfoundry.core.environment import Environment, Instance, answer_kind, contract_errors
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
# Share of random answers of the reference's shape allowed to be right by chance (a sound verifier
# of a tiny planted instance accepts some: 4% over all levels for the seeds, 22% at level 0 at most).
MAX_RANDOM_ACCEPT = 0.2
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


_NUMBER_RE = re.compile(r"-?[0-9]+")
_WORD_RE = re.compile(r"[A-Za-z]+")
_SHAPE_RE = re.compile(r"-?[0-9]+|[A-Za-z]+")


def random_answers(reference: str, prompt: str, rng: random.Random, count: int = 4) -> list[str]:
    """Random answers of the reference's shape, right only by chance. Every integer is replaced by a
    random one: in three answers of four from the reference's own range (so a verifier that checks
    only ranges and lengths accepts them), in the fourth from the numbers the prompt mentions.
    Every word is replaced by a word of the reference's (by letters of the word drawn at random,
    where the reference is one word, like a move string). Separators and punctuation are kept;
    results equal to the reference are left out."""
    ref_numbers = [int(t) for t in _NUMBER_RE.findall(reference) if len(t) <= 18]
    prompt_numbers = [int(t) for t in _NUMBER_RE.findall(prompt) if len(t) <= 18]
    words = sorted(set(_WORD_RE.findall(reference)))
    own_range = bool(ref_numbers) and min(ref_numbers) < max(ref_numbers)

    def replace(match: re.Match[str], from_reference: bool) -> str:
        token = match.group(0)
        if _WORD_RE.fullmatch(token):
            if len(words) >= 2:
                return rng.choice(words)
            letters = sorted(set(token))
            return "".join(rng.choice(letters) for _ in token) if len(letters) >= 2 else token
        if from_reference or not prompt_numbers:
            return str(rng.randint(min(ref_numbers), max(ref_numbers))) if ref_numbers else token
        return str(rng.choice(prompt_numbers))

    seen, out = {reference.strip()}, []
    for attempt in range(count * 3):
        from_reference = own_range and attempt % 4 != 3
        candidate = _SHAPE_RE.sub(functools.partial(replace, from_reference=from_reference), reference)
        if candidate.strip() not in seen:
            seen.add(candidate.strip())
            out.append(candidate)
        if len(out) == count:
            break
    return out


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
            return CheckResult(
                "reference", False, f"the prompt of seed {instance.seed} does not show the <answer> tags"
            )
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
    return call_in_subprocess(
        "envfoundry.checks.battery:sample_as_json", [spec, [list(r) for r in requests]], timeout_s
    )


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
    """Answers known to be wrong do not score 1.0: empty, malformed, untagged, random answers of the
    reference's shape, other instances' references and shotguns that list many candidates with the
    right one among them.

    Near-misses of the reference (``perturbations``) must fail too where one answer is right
    (``answer_kind`` "unique"). Where many are right ("many": planted environments unless they
    declare otherwise) a near-miss may be a second right answer (swapping one set of a cover for
    another often gives another cover), so its rate is only recorded, and a shotgun's decoys are
    answers that scored wrong on their own and add something the reference does not hold.

    Responses are scored in two batches (one round trip per sandbox worker each): every probe, then
    the shotguns built from what the first batch showed to be wrong.
    """
    rng = random.Random(rng_seed)
    kind = answer_kind(env)
    # (kind, level, instance, response, detail, candidate)
    trials: list[tuple[str, float, Instance, str, str, str]] = []
    for level, instances in samples.items():
        for index, instance in enumerate(instances):
            reference = instance.reference.strip()
            for bad in MALFORMED_ANSWERS:
                if bad.strip().casefold() != reference.casefold():  # "yes" is right where the reference is "Yes"
                    trials.append(("malformed", level, instance, wrap_answer(bad), bad, bad))
            trials.append(("untagged", level, instance, instance.reference, "", ""))
            for candidate in perturbations(instance.reference, rng):
                trials.append(("perturbed", level, instance, wrap_answer(candidate), candidate, candidate))
            for candidate in random_answers(instance.reference, instance.prompt, rng):
                trials.append(("random", level, instance, wrap_answer(candidate), candidate, candidate))
            for other in instances[index + 1 : index + 4] + instances[: max(0, index + 4 - len(instances))]:
                if other is not instance and other.reference.strip() != reference:
                    trials.append(("other", level, instance, wrap_answer(other.reference), "", other.reference))
    verdicts = env.score_many([t[2] for t in trials], [t[3] for t in trials])
    counts: dict[str, list[int]] = {"perturbed": [0, 0], "random": [0, 0], "other": [0, 0]}
    wrong: dict[int, dict[str, list[str]]] = {}  # per instance and probe: candidates that scored wrong alone
    for (probe, level, instance, _, detail, candidate), verdict in zip(trials, verdicts, strict=True):
        where = f"seed {instance.seed}, level {level}"
        if probe == "malformed" and verdict.correct:
            return CheckResult("wrong_answers", False, f"malformed answer {detail!r} scored 1.0 ({where})")
        if probe == "untagged" and verdict.reward > 0:
            return CheckResult("wrong_answers", False, "a response without <answer> tags earned reward")
        if probe in counts:
            counts[probe][0] += 1
            counts[probe][1] += verdict.correct
            if not verdict.correct and (probe != "perturbed" or kind == "unique"):
                wrong.setdefault(id(instance), {}).setdefault(probe, []).append(candidate)
    shotguns = _shotguns(samples, wrong, kind)
    verdicts = env.score_many([t[0] for t in shotguns], [t[1] for t in shotguns]) if shotguns else []
    for (instance, _, level, size), verdict in zip(shotguns, verdicts, strict=True):
        if verdict.correct:
            where = f"seed {instance.seed}, level {level}"
            return CheckResult(
                "wrong_answers", False, f"a shotgun answer listing {size} candidates scored 1.0 ({where})"
            )
    figures: dict[str, Any] = {"answers": kind, "shotguns_tried": len(shotguns)}
    for probe, (total, accepted) in counts.items():
        figures[f"{probe}_accept_rate"] = accepted / max(total, 1)
        figures[f"{probe}_tried"] = total
    # Where many answers are right, another instance's reference is one more random answer of the
    # right shape (a tiny instance's timetable often fits another tiny instance): the same limit.
    other_limit = MAX_OTHER_ACCEPT if kind == "unique" else MAX_RANDOM_ACCEPT
    limits = [("random", MAX_RANDOM_ACCEPT, "random answers of the reference's shape"),
              ("other", other_limit, "other instances' references")]  # fmt: skip
    if kind == "unique":
        limits.insert(0, ("perturbed", MAX_PERTURBED_ACCEPT, "perturbed references"))
    for probe, limit, what in limits:
        rate = figures[f"{probe}_accept_rate"]
        if counts[probe][0] and rate > limit:
            hint = ' (if several answers can be right, declare answers = "many")' if probe == "perturbed" else ""
            return CheckResult("wrong_answers", False, f"{rate:.0%} of {what} still scored 1.0{hint}", figures)
    near = "perturbed" if kind == "unique" else "(near-misses may be right: not judged)"
    return CheckResult(
        "wrong_answers", True, f"malformed, random, other-instance, shotgun and {near} answers rejected", figures
    )


def _shotguns(
    samples: dict[float, list[Instance]], wrong: dict[int, dict[str, list[str]]], kind: str
) -> list[tuple[Instance, str, float, int]]:
    """(instance, response, level, candidates) for answers listing the reference among decoys that
    scored wrong on their own (two of each probe), in both orders and with four separators. Where
    many answers are right a decoy must hold a token the reference does not: repeating the
    reference's own parts lists no other candidate."""
    out = []
    for level, instances in samples.items():
        for instance in instances:
            reference_tokens = set(split_tokens(instance.reference))
            decoys = [
                d
                for found in wrong.get(id(instance), {}).values()
                for d in [d for d in found if kind == "unique" or not set(split_tokens(d)) <= reference_tokens][:2]
            ]
            if not decoys:
                continue
            for sep in (" ", "\n", " or ", ", "):
                for listing in ([instance.reference, *decoys], [*decoys, instance.reference]):
                    out.append((instance, wrap_answer(sep.join(listing)), level, len(listing)))
    return out


def check_no_leak(env: Environment, samples: dict[float, list[Instance]]) -> CheckResult:
    """The prompt never contains a reference longer than a few characters verbatim."""
    for level, instances in samples.items():
        for instance in instances:
            if shows_answer(instance.prompt, instance.reference):
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
