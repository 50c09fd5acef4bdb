"""Conversion stage: how many calls of the function one instance asks about, and balanced outputs.

SCALER's rule, the execution stage's non-triviality check, asks for at least 10 distinct references
in 100 draws at level 0.5, the most common at most 30% of them. A function whose single calls have
few outputs (a bool, a small count) fails it, and rightly: its instances can be guessed.
CodeContests puts several test cases in one input with one answer for all of them; the converter
does the same. This stage draws ``DRAWS`` single calls at level 0.5 of the scale found and picks the
fewest calls per instance, up to ``template.MAX_CALLS``, whose answers (the single outputs, or
lists of outputs resampled from them) pass the rule with a margin. Where no number of calls would
(one output nearly always), one call stays and the execution stage rejects the problem with its
usual reason: the stage itself rejects only a problem whose single calls cannot be drawn, the rule
stays where it is. It also fixes the format example every prompt shows, from the shape of the usual
output (``programs.example_answer`` / ``example_calls``): the same for every instance.

Mutated inputs often make one output usual (a random list of deposits and withdrawals nearly always
goes below zero): where one output is more than ``BALANCE_FACTOR`` times as common as it would be
with every class equal, the stage asks for balanced outputs instead (each output at least
``BALANCE_SHARE`` of the draws is a class, every other output together one more; each call draws its
class first, then inputs until the output falls in it, within ``template.ATTEMPTS`` draws). The
converter then probes with balancing on, this stage measures again and the scale is searched again
with balancing on (redrawing costs time). The classes come from the first scale's level 0.5; at
level 1 a rare class can be harder to hit, and the usual output more common than at level 0.5.

Only function problems with one right output are asked about several calls; the converter runs
this stage for no other.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from typing import Any

from envfoundry.convert.template import MAX_CALLS, Scale
from envfoundry.core.programs import example_answer, example_calls
from envfoundry.sandbox import SandboxError
from envfoundry.synth.stages.base import StageReport, timed
from envfoundry.synth.stages.execution import MAX_COMMON_SHARE, TRIVIALITY_LEVEL, needed_distinct

NAME = "calls"
DRAWS = 100
SEEDS = tuple(range(70_000, 70_000 + DRAWS))
# The margins over the rule that answers simulated from single draws must clear: 50% more distinct
# answers than needed, the most common at most two thirds of the share allowed.
DISTINCT_MARGIN = 1.5
COMMON_MARGIN = 2 / 3
BALANCE_SHARE = COMMON_MARGIN * MAX_COMMON_SHARE
BALANCE_FACTOR = 1.5


def _passes(answers: list[str], distinct_margin: float = DISTINCT_MARGIN, common_margin: float = COMMON_MARGIN) -> bool:
    counts = Counter(answers)
    share = counts.most_common(1)[0][1] / len(answers)
    return len(counts) >= distinct_margin * needed_distinct(answers) and share <= common_margin * MAX_COMMON_SHARE


def choose(outputs: list[str]) -> int | None:
    """The fewest calls per instance for which answers drawn from ``outputs`` (single calls' outputs)
    pass the rule with the margins: 1 where they already do, None where no number up to
    ``MAX_CALLS`` would."""
    if _passes(outputs):
        return 1
    rng = random.Random(0)
    for calls in range(2, MAX_CALLS + 1):
        answers = ["[" + ", ".join(rng.choice(outputs) for _ in range(calls)) + "]" for _ in outputs]
        if _passes(answers):
            return calls
    return None


def balance(outputs: list[str]) -> dict[str, Any] | None:
    """The output classes that balancing would draw uniformly, or None where it would not help (one
    output only, or none much more common than its share among equal classes)."""
    counts = Counter(outputs)
    classes = [output for output, count in counts.most_common() if count / len(outputs) >= BALANCE_SHARE]
    other = any(output not in classes for output in counts)
    number = len(classes) + other
    if not classes or number < 2 or counts[classes[0]] / len(outputs) <= BALANCE_FACTOR / number:
        return None
    return {"classes": classes, "other": other}


def run(env: Any, found: Scale, may_balance: bool = True) -> tuple[StageReport, Scale]:
    """``found``: the scale the scale stage found. Returns the report and that scale with its
    ``calls`` and the format example every instance shows, or, where the outputs should be
    balanced first (and ``may_balance``), with its ``balance`` (the caller then measures again)."""
    chosen: dict[str, Scale] = {"scale": found}

    def body() -> StageReport:
        params = {**found.at_level(TRIVIALITY_LEVEL), "tests": 0, "calls": 1}
        try:
            results = env.sample_many(list(SEEDS), params=params, strict=False)
        except SandboxError as exc:
            return StageReport(NAME, False, f"sampling single calls failed: {exc}")
        outputs = [r.reference for r in results if not isinstance(r, SandboxError)]
        if len(outputs) < DRAWS // 2:
            return StageReport(NAME, False, f"only {len(outputs)} of {DRAWS} single calls could be drawn")
        counts = Counter(outputs)
        figures: dict[str, Any] = {"distinct_outputs": len(counts), "most_common_share": counts.most_common(1)[0][1]
                                   / len(outputs), "draws": len(outputs)}  # fmt: skip
        calls = choose(outputs)
        if calls != 1 and may_balance and found.balance is None and (table := balance(outputs)) is not None:
            figures["balance"] = table
            chosen["scale"] = dataclasses.replace(found, balance=table)
            return StageReport(NAME, True, f"outputs balanced over {len(table['classes']) + table['other']} classes: "
                               f"the most common was {figures['most_common_share']:.0%} of single calls", figures)  # fmt: skip
        shape = counts.most_common(1)[0][0]  # the format example takes the usual output's shape
        figures["calls"] = calls or 1
        if calls is None:  # left to the rule, which rejects it: no example to avoid (it could be the one answer)
            chosen["scale"] = dataclasses.replace(found, calls=1, example="")
            return StageReport(NAME, True, f"one call: {len(counts)} distinct outputs in {len(outputs)} single calls, "
                               f"and no number of calls up to {MAX_CALLS} would vary enough", figures)  # fmt: skip
        if calls == 1:
            chosen["scale"] = dataclasses.replace(found, calls=1, example=example_answer(shape))
            return StageReport(NAME, True, f"one call: {len(counts)} distinct outputs in {len(outputs)} draws", figures)
        chosen["scale"] = dataclasses.replace(found, calls=calls, example=example_calls(shape))
        balanced = " (balanced)" if found.balance else ""
        return StageReport(NAME, True, f"{calls} calls an instance: single calls{balanced} have {len(counts)} distinct "
                           f"outputs in {len(outputs)} draws, the most common {figures['most_common_share']:.0%}",
                           figures)  # fmt: skip

    report = timed(NAME, body)
    return report, chosen["scale"]
