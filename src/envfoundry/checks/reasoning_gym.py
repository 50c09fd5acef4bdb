"""Vetting reasoning-gym's datasets: which of them envfoundry can use, and why the others not.

A dataset passes when its adapted environment meets what the adapter itself needs (``adapter_problem``:
reasoning-gym makes items with an answer string that survive JSON for their scorer, a cached dataset
re-seeded per item gives a fresh dataset's items, sampling stays within budget), passes envfoundry's
check battery and draws the same instances in a fresh interpreter. A failure is one verdict,
``"check: reason"``, and the text before the colon is the kind that ``failure_counts`` tallies.

``vet`` vets each dataset in its own interpreter (``checks.battery.call_in_subprocess``), so one that
hangs or crashes costs only its own verdict. ``benchmarks/vet_reasoning_gym.py`` runs it and writes the
table behind the adapter's ``DEFAULT_DATASETS``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from envfoundry.adapters.reasoning_gym import (
    ANSWER_IN_QUESTION,
    ReasoningGymEnvironment,
    available,
    entry_reference,
    make_environment,
    scorer_entry,
    time_limit,
)
from envfoundry.checks.battery import (
    SAMPLE_BUDGET_S,
    call_in_subprocess,
    check_determinism_across_processes,
    check_environment,
    perturbations,
    random_answers,
)
from envfoundry.core.environment import CORRECT_EPS

VET_SEEDS: tuple[int, ...] = tuple(range(16))
VET_TIMEOUT_S = 180.0


def adapter_problem(env: ReasoningGymEnvironment, seeds: Sequence[int]) -> str | None:
    """What the adapter itself needs, at the easiest and hardest level: reasoning-gym makes items,
    they carry an answer string, survive JSON for their scorer, and a cached, re-seeded dataset
    gives the same items as a fresh one; sampling at level 1 stays within the budget."""
    if env.dataset in ANSWER_IN_QUESTION:
        return f"no_leak: {ANSWER_IN_QUESTION[env.dataset]}"
    for level in (0.0, 1.0):
        indices = env.parameter_space.at_level(level)
        for seed in seeds:
            try:  # as ``generate`` draws items: a seed that raises is followed by the next one
                _, entry = env.draw_entry(random.Random(seed), indices)
            except Exception as exc:  # noqa: BLE001 - any reasoning-gym failure is a vetting verdict
                return f"rg_error: at level {level} reasoning-gym raised {type(exc).__name__}: {exc}"
            answer = entry_reference(env.dataset, entry)
            if answer is None:
                return (
                    f"no_reference: the answer is {type(entry.get('answer')).__name__}, not a string, and no "
                    "solution is known from the metadata (the scorer checks solutions)"
                )
            try:
                loaded = json.loads(json.dumps(entry))
            except (TypeError, ValueError) as exc:
                return f"not_json: the entry is not plain JSON ({exc})"
            scorer = env.rg_dataset(indices)
            raw = scorer.score_answer(answer, entry)
            after = scorer.score_answer(answer, scorer_entry(env.dataset, loaded))
            if raw < 1.0 - CORRECT_EPS:
                return f"reference: reasoning-gym's own answer scores {raw} at level {level}"
            if after < 1.0 - CORRECT_EPS:
                return f"json_round_trip: its own answer scores {after} once the entry has been through JSON"
        with contextlib.suppress(Exception):
            cached = [json.dumps(env.rg_entry(seed, indices), default=repr) for seed in seeds]
            fresh = [json.dumps(env.fresh_dataset(indices, seed)[0], default=repr) for seed in seeds]
            if cached != fresh:
                return "reseed: a cached dataset re-seeded per item gives other items than a fresh dataset"
    times = env.time_samples(list(seeds), level=1.0)
    if statistics.median(times) > SAMPLE_BUDGET_S:
        return (
            f"sample_time: median sampling time at level 1 is {statistics.median(times) * 1000:.1f} ms "
            f"(> {SAMPLE_BUDGET_S * 1000:.0f} ms)"
        )
    return None


def vet_one(dataset: str, seeds: Sequence[int] = VET_SEEDS, across_processes: bool = True) -> str | None:
    """Why ``dataset`` cannot be adapted (``"check: reason"``), or None when its environment passes
    the adapter's own checks, envfoundry's battery and (optionally) the cross-process check."""
    try:
        env = make_environment(dataset)
    except Exception as exc:  # noqa: BLE001
        return f"adapt: {type(exc).__name__}: {exc}"
    try:
        problem = adapter_problem(env, seeds[:3])
    except Exception as exc:  # noqa: BLE001
        return f"rg_error: reasoning-gym raised {type(exc).__name__}: {exc}"
    if problem:
        return problem
    for result in check_environment(env, seeds=seeds):
        if not result.passed:
            return f"{result.name}: {result.reason}"
    # Apart from the battery (not its ``spec``): a fresh interpreter is started only for a dataset that passed.
    if across_processes:
        try:
            result = check_determinism_across_processes(env, env.name, seeds[:4])
        except Exception as exc:  # noqa: BLE001
            return f"determinism_across_processes: raised {type(exc).__name__}: {exc}"
        if not result.passed:
            return f"{result.name}: {result.reason}"
    return None


def vet(
    datasets: Sequence[str] | None = None, jobs: int | None = None, timeout_s: float = VET_TIMEOUT_S
) -> dict[str, str | None]:
    """The vetting verdict per dataset (None: passes), each vetted in its own interpreter so that a
    dataset that hangs or crashes costs only its own verdict. ``datasets`` defaults to all
    adaptable ones; ``jobs`` interpreters run at once (default: half the CPUs)."""
    names = list(datasets) if datasets is not None else available()
    return _each_in_a_child(
        "envfoundry.checks.reasoning_gym:vet_one", names, jobs, timeout_s,
        lambda why: f"timeout: vetting took over {timeout_s:g} s" if why is None else f"crash: {why}",
    )  # fmt: skip


def _each_in_a_child(
    target: str, names: Sequence[str], jobs: int | None, timeout_s: float, failed: Callable[[Exception | None], Any]
) -> dict[str, Any]:
    """``target`` called on each name, each in its own interpreter (``call_in_subprocess``), ``jobs``
    at once (default: half the CPUs); one that runs past ``timeout_s`` gets ``failed(None)``, one
    that crashes ``failed(exception)``, so it costs only its own result."""
    jobs = jobs or max(1, (os.cpu_count() or 2) // 2)

    def one(name: str) -> Any:
        try:
            return call_in_subprocess(target, name, timeout_s)
        except subprocess.TimeoutExpired:
            return failed(None)
        except Exception as exc:  # noqa: BLE001
            return failed(exc)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def failure_counts(verdicts: Mapping[str, str | None]) -> dict[str, int]:
    """How many datasets failed for each kind of reason (the text before the first colon), most first."""
    counts = collections.Counter(reason.split(":", 1)[0] for reason in verdicts.values() if reason)
    return dict(counts.most_common())


def scorer_disagreements(
    dataset: str, seeds: Sequence[int] = VET_SEEDS, levels: Sequence[float] = (0.0, 0.5, 1.0)
) -> dict[str, object]:
    """Where envfoundry's verifier and reasoning-gym's ``score_answer`` part ways on a sample of
    answers for one dataset: the reference, spelling variants of it (case, spacing, a full stop),
    near-misses, random answers of its shape and other instances' references. Counts of answers
    both give full marks, only ours, only theirs, and up to three examples of each disagreement."""
    env = make_environment(dataset)
    rng = random.Random(0)
    counts = {"tried": 0, "both": 0, "ours_only": 0, "theirs_only": 0}
    examples: dict[str, list[dict[str, str]]] = {"ours_only": [], "theirs_only": []}
    for level in levels:
        instances = env.sample_many(list(seeds), level=level)
        for index, instance in enumerate(instances):
            reference = instance.reference
            candidates = {reference, reference.upper(), f" {reference} ", f"{reference}.", reference.replace(" ", "  ")}
            candidates.update(perturbations(reference, rng, count=4))
            candidates.update(random_answers(reference, instance.prompt, rng, count=2))
            candidates.add(instances[(index + 1) % len(instances)].reference)
            scorer = env.rg_dataset(instance.state["levels"])
            entry = scorer_entry(env.dataset, instance.state["entry"])
            for answer in sorted(candidates):
                ours = env.score_answer(instance, answer).correct
                try:
                    theirs = float(scorer.score_answer(answer, entry)) >= 1.0 - CORRECT_EPS
                except Exception:  # noqa: BLE001 - a scorer that raises gives no marks
                    theirs = False
                counts["tried"] += 1
                key = "both" if ours and theirs else "ours_only" if ours else "theirs_only" if theirs else None
                if key:
                    counts[key] += 1
                if key in examples and len(examples[key]) < 3:
                    examples[key].append({"reference": reference[:80], "answer": answer[:80]})
    return {**counts, "examples": examples}


# ----- measured level ranges --------------------------------------------------------------------
CALIBRATION_SEEDS: tuple[int, ...] = tuple(range(6))
# A setting is kept when its median sampling time is within this share of the battery's budget
# (the margin absorbs a slower or busier machine).
CALIBRATION_SHARE = 0.5
# Seconds one probe (CALIBRATION_SEEDS items at one setting) may take before it counts as hanging.
PROBE_LIMIT_S = 5.0


class _ProbeTimeout(BaseException):  # not an Exception: code that retries on any error must not swallow it
    pass


def _probe(env: ReasoningGymEnvironment, indices: Mapping[str, int]) -> str | None:
    """Why reasoning-gym cannot serve ``indices`` within the budget ("error: ...", "slow: ...",
    "hangs"), or None. Runs under SIGALRM: it must be called on a process's main thread."""
    import time

    times = []
    try:
        with time_limit(PROBE_LIMIT_S, _ProbeTimeout):
            for seed in CALIBRATION_SEEDS:
                start = time.perf_counter()
                _, entry = env.draw_entry(random.Random(seed), indices)
                times.append(time.perf_counter() - start)
                reference = entry_reference(env.dataset, entry)
                if reference is None:
                    return "error: no reference"
                # Its own answer must earn full marks (the Rubik's cube's example solution fails on big cubes).
                score = env.rg_dataset(indices).score_answer(reference, entry)
                if score < 1.0 - CORRECT_EPS:
                    return f"error: reasoning-gym's own answer scores {score:g}"
    except _ProbeTimeout:
        return f"hangs: {len(CALIBRATION_SEEDS)} items took over {PROBE_LIMIT_S:g} s"
    except Exception as exc:  # noqa: BLE001 - any reasoning-gym failure is a verdict on the setting
        return f"error: {type(exc).__name__}: {exc}"[:200]
    median = statistics.median(times)
    if median > CALIBRATION_SHARE * SAMPLE_BUDGET_S:
        return f"slow: median {median * 1000:.1f} ms"
    return None


def calibrate_one(dataset: str) -> dict[str, object]:
    """The index range per attribute that reasoning-gym accepts and samples within budget.

    The lowest index of each attribute is raised while reasoning-gym rejects it (the others at their
    lowest); then, from every attribute at its top, the highest index of one attribute at a time
    (round robin) comes down until level 1 works and samples within ``CALIBRATION_SHARE`` of the
    budget and scores reasoning-gym's own answer 1.0, and each attribute in turn goes back up as far
    as level 1 still does. Returns ``{"ranges": {param: [low, high]}, "changed": bool, "log": [...]}``,
    or ``{"error": reason}`` when no setting works. Run it in a fresh interpreter (``calibrate``):
    a probe that hangs is stopped by SIGALRM."""
    env = make_environment(dataset)
    ranges = {a.param: [0, a.top] for a in env.attributes}
    log: list[str] = []
    for attribute in env.attributes:
        while True:
            indices = {param: low for param, (low, _) in ranges.items()}
            problem = _probe(env, indices)
            if problem is None or not problem.startswith("error"):
                break
            low, high = ranges[attribute.param]
            if low >= high:
                break
            ranges[attribute.param][0] = low + 1
            log.append(f"{attribute.param} from {low + 1}: {problem}")
    if (problem := _probe(env, {param: low for param, (low, _) in ranges.items()})) is not None:
        return {"error": f"the lowest setting fails: {problem}"}
    order = [a.param for a in env.attributes]
    turn = 0
    while (problem := _probe(env, {param: high for param, (_, high) in ranges.items()})) is not None:
        movable = [p for p in order if ranges[p][1] > ranges[p][0]]
        if not movable:
            return {"error": f"even the lowest setting at level 1 fails: {problem}"}
        param = movable[turn % len(movable)]
        turn += 1
        ranges[param][1] -= 1
        log.append(f"{param} up to {ranges[param][1]}: {problem}")
    # Coming down one attribute at a time may have lowered some further than needed: raise each
    # again as far as level 1 still works.
    for attribute in env.attributes:
        param = attribute.param
        while ranges[param][1] < attribute.top:
            trial = {p: high for p, (_, high) in ranges.items()} | {param: ranges[param][1] + 1}
            if (problem := _probe(env, trial)) is not None:
                log.append(f"{param} not up to {ranges[param][1] + 1} again: {problem}")
                break
            ranges[param][1] += 1
            log.append(f"{param} back up to {ranges[param][1]}")
    changed = any(tuple(ranges[a.param]) != (0, a.top) for a in env.attributes)
    return {"ranges": ranges, "changed": changed, "log": log}


def calibrate(datasets: Sequence[str], jobs: int | None = None, timeout_s: float = VET_TIMEOUT_S) -> dict[str, dict]:
    """``calibrate_one`` per dataset, each in its own interpreter."""
    return _each_in_a_child(
        "envfoundry.checks.reasoning_gym:calibrate_one", datasets, jobs, timeout_s,
        lambda why: {"error": f"calibration took over {timeout_s:g} s" if why is None else f"crash: {why}"},
    )  # fmt: skip
