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
import statistics
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from envfoundry.adapters.reasoning_gym import ReasoningGymEnvironment, available, make_environment
from envfoundry.checks.battery import (
    SAMPLE_BUDGET_S,
    call_in_subprocess,
    check_determinism_across_processes,
    check_environment,
)
from envfoundry.core.environment import CORRECT_EPS

VET_SEEDS: tuple[int, ...] = tuple(range(16))
VET_TIMEOUT_S = 180.0


def adapter_problem(env: ReasoningGymEnvironment, seeds: Sequence[int]) -> str | None:
    """What the adapter itself needs, at the easiest and hardest level: reasoning-gym makes items,
    they carry an answer string, survive JSON for their scorer, and a cached, re-seeded dataset
    gives the same items as a fresh one; sampling at level 1 stays within the budget."""
    for level in (0.0, 1.0):
        indices = env.parameter_space.at_level(level)
        for seed in seeds:
            try:
                entry = env.rg_entry(seed, indices)
            except Exception as exc:  # noqa: BLE001 - any reasoning-gym failure is a vetting verdict
                return f"rg_error: at level {level} reasoning-gym raised {type(exc).__name__}: {exc}"
            answer = entry.get("answer")
            if not isinstance(answer, str):
                return (
                    f"no_reference: the answer is {type(answer).__name__}, not a string (the scorer checks solutions)"
                )
            try:
                loaded = json.loads(json.dumps(entry))
            except (TypeError, ValueError) as exc:
                return f"not_json: the entry is not plain JSON ({exc})"
            scorer = env.rg_dataset(indices)
            raw, after = scorer.score_answer(answer, entry), scorer.score_answer(answer, loaded)
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
    jobs = jobs or max(1, (os.cpu_count() or 2) // 2)

    def one(name: str) -> str | None:
        try:
            return call_in_subprocess("envfoundry.checks.reasoning_gym:vet_one", name, timeout_s)
        except subprocess.TimeoutExpired:
            return f"timeout: vetting took over {timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001
            return f"crash: {exc}"

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        verdicts = list(pool.map(one, names))
    return dict(zip(names, verdicts, strict=True))


def failure_counts(verdicts: Mapping[str, str | None]) -> dict[str, int]:
    """How many datasets failed for each kind of reason (the text before the first colon), most first."""
    counts = collections.Counter(reason.split(":", 1)[0] for reason in verdicts.values() if reason)
    return dict(counts.most_common())
