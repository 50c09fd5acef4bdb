"""Stage 5, solver-relative calibration: the solver model answers instances at several levels.

Admitted only if the pass rate is strictly between 0 and 1 somewhere in the level range: an
environment the solver always fails or always passes gives GRPO no signal at any level. Records
the pass-rate curve and the level whose pass rate is nearest ``TARGET`` (interpolated)."""

from __future__ import annotations

from typing import Any

from envfoundry.checks.battery import LEVELS
from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "calibration"
TARGET = 0.3
SYSTEM = "Solve the task. Think briefly, then give the final answer inside <answer></answer>."
SEED_BASE = 20_000  # the solver's instances: seeds SEED_BASE, SEED_BASE + 1, ... at every level


def sample_instances(env: Any, n: int) -> list[tuple[float, Any]]:
    """(level, instance) pairs the solver answers: ``n`` seeds at every level. A batch's
    prevalidation samples them ahead, in the sandbox where the candidate's code ran."""
    seeds = list(range(SEED_BASE, SEED_BASE + n))
    return [(level, instance) for level in LEVELS for instance in env.sample_many(seeds, level=level)]


def target_level(curve: dict[float, float], target: float = TARGET) -> float:
    """The level where the pass-rate curve is nearest ``target``, interpolating between levels."""
    levels = sorted(curve)
    best = min(levels, key=lambda level: abs(curve[level] - target))
    for low, high in zip(levels, levels[1:], strict=False):
        a, b = curve[low], curve[high]
        if a != b and min(a, b) <= target <= max(a, b):
            return round(low + (target - a) / (b - a) * (high - low), 4)
    return best


def run(candidate: Candidate, context: Context) -> StageReport:
    def body() -> StageReport:
        if context.solver is None:
            return StageReport(NAME, True, "skipped: no solver model given", skipped=True)
        env, n = context.env, context.calibration_per_level
        instances = sample_instances(env, n)
        conversations = [
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": instance.prompt}]
            for _, instance in instances
        ]
        replies = context.solver.chat_many(conversations, max_tokens=context.max_tokens, temperature=0.7)
        texts = [getattr(reply, "text", "") or "" for reply in replies]
        verdicts = env.score_many([instance for _, instance in instances], texts)
        curve = {}
        for level in LEVELS:
            rewards = [v.correct for (lv, _), v in zip(instances, verdicts, strict=True) if lv == level]
            curve[level] = sum(rewards) / len(rewards)
        figures = {
            "curve": {str(level): rate for level, rate in curve.items()},
            "per_level": n,
            "solver": getattr(context.solver, "name", "?"),
            "format_ok": sum(v.format_ok for v in verdicts) / len(verdicts),
        }
        if all(rate == 0 for rate in curve.values()):
            return StageReport(NAME, False, f"the solver solved nothing at any level ({n} instances per level): "
                               "no level gives it a learning signal", figures)  # fmt: skip
        if all(rate == 1 for rate in curve.values()):
            return StageReport(NAME, False, "the solver solved everything at every level: too easy", figures)
        figures["target_level"] = target_level(curve)
        figures["target"] = TARGET
        return StageReport(NAME, True, f"pass rate between 0 and 1 at some level; nearest {TARGET} at level "
                           f"{figures['target_level']}", figures)  # fmt: skip

    return timed(NAME, body)
