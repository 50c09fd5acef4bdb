"""Conversion stage: how large inputs may grow, found by binary search (SCALER's level 1).

Each scale parameter is searched in turn, from the examples' own scale (level 0) up to its cap,
the ones already searched held at the largest setting found and the rest at their lowest, for the
largest value at which ``DRAWS`` instances all stay within the budgets: a prompt of at most
``PROMPT_BUDGET`` characters, a reference of at most ``REFERENCE_BUDGET``, and a reference solution
that executes at most ``LINE_BUDGET`` lines on the input (lines, not seconds: the same on every
machine, up to the few lines a cache warmed earlier in the process saves), and, because work done
in C executes few lines (``sum(range(n))`` is one), a median sampling time of at most
``TIME_BUDGET_S`` (measured in the sandbox worker; the battery allows 50 ms at level 1). That one
budget depends on the machine: where it binds, level 1 is smaller on a slower machine. All
parameters at their maxima are checked together and, if that corner fails, pulled back together.
That corner is recorded as level 1.

Inputs on which the reference raises or runs past its budget are discarded by the environment and
redrawn; the stage counts them and rejects a problem that discards more than ``MAX_DISCARD_SHARE``
of its draws. Where the examples' own scale is already the largest within the budgets (a naive
recursive Fibonacci), level 0 comes down towards the parameters' floor (the lowest setting that
fits) so that difficulty still moves from smaller inputs up to the examples'. A problem whose
scale cannot move at all is rejected.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import Any

from envfoundry.convert.template import Scale
from envfoundry.sandbox import SandboxError
from envfoundry.synth.stages.base import StageReport, timed

NAME = "scale"
DRAWS = 12
SEEDS = tuple(range(60_000, 60_000 + DRAWS))
PROMPT_BUDGET = 3_000
REFERENCE_BUDGET = 300
LINE_BUDGET = 20_000
TIME_BUDGET_S = 0.03
TIMED = 4
MAX_DISCARD_SHARE = 0.5
# Where the whole corner fails, every parameter is pulled back to this fraction of its range.
PULLBACK = (0.75, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.0)


class _Probe:
    """Draws at a setting and judges them against the budgets; counts what it saw."""

    def __init__(self, env: Any, calls: int) -> None:
        self.env = env
        self.calls = calls
        self.draws = 0
        self.discarded = 0

    def fits(self, params: dict[str, Any]) -> tuple[bool, str]:
        results = self.env.sample_many(list(SEEDS), params={**params, "tests": 0, "calls": self.calls}, strict=False)
        failed = [r for r in results if isinstance(r, SandboxError)]
        if failed:
            return False, f"sampling failed: {failed[0]}"
        discarded = sum(r.metadata.get("discarded", 0) for r in results)
        draws = len(results) * self.calls + discarded
        self.draws += draws
        self.discarded += discarded
        if discarded > MAX_DISCARD_SHARE * draws:
            return False, f"{discarded} of {draws} draws discarded"
        worst = {
            "prompt": max(len(r.prompt) for r in results),
            "reference": max(len(r.reference) for r in results),
            "lines": max(r.state.get("lines", 0) for r in results),
        }
        budgets = {"prompt": (PROMPT_BUDGET, "a prompt of {} characters"),
                   "reference": (REFERENCE_BUDGET, "a reference of {} characters"),
                   "lines": (LINE_BUDGET, "a reference run of {} lines")}  # fmt: skip
        for key, (budget, what) in budgets.items():
            if worst[key] > budget:
                return False, f"{what.format(worst[key])} (budget {budget})"
        seconds = statistics.median(self.env.time_samples(list(SEEDS[:TIMED]), params={**params, "tests": 0,
                                                                                         "calls": self.calls}))  # fmt: skip
        if seconds > TIME_BUDGET_S:
            return False, f"a sampling time of {seconds * 1000:.0f} ms (budget {TIME_BUDGET_S * 1000:.0f})"
        return True, ""


def _ladder(low: float, high: float, kind: str) -> list[float]:
    """Candidate values from low to high: every integer for a short range, else a geometric ladder."""
    if kind == "int" and high - low <= 64:
        return list(range(int(low), int(high) + 1))
    values, steps = [], 48
    for i in range(steps + 1):
        if low > 0:
            value = low * (high / low) ** (i / steps)
        else:
            value = low + (high - low) * (i / steps) ** 2
        values.append(int(round(value)) if kind == "int" else round(value, 4))
    return sorted(set(values))


def _largest(probe: _Probe, ladder: list[float], setting: Any) -> tuple[float, str]:
    """The largest ladder value that fits (ladder[0] is known to fit), by binary search."""
    low, high, why = 0, len(ladder) - 1, ""
    while low < high:
        middle = (low + high + 1) // 2
        ok, reason = probe.fits(setting(ladder[middle]))
        if ok:
            low = middle
        else:
            high, why = middle - 1, reason
    return ladder[low], why


def run(env: Any, scale: Scale) -> tuple[StageReport, Scale | None]:
    """``scale``: each parameter's (floor, cap, kind), where to start (``scale.start``) and the calls
    per instance. Returns the report and the found space: from the start (or below it, towards the
    floor, where the start breaks the budgets) to the largest setting that keeps within them."""
    found: dict[str, Any] = {}

    def body() -> StageReport:
        probe = _Probe(env, scale.calls)
        current = {name: scale.start.get(name, low) for name, (low, _, _) in scale.dims.items()}
        ok, reason = probe.fits(current)
        if not ok:  # the examples are large: level 0 comes down towards the smallest inputs
            start = dict(current)
            for fraction in PULLBACK:
                pulled = {n: _pull(low, start[n], kind, fraction) for n, (low, _, kind) in scale.dims.items()}
                if probe.fits(pulled)[0]:
                    current = pulled
                    break
            else:
                return StageReport(NAME, False, f"even the smallest inputs break the budgets: {reason}")
        lows = dict(current)
        limits: dict[str, str] = {}
        for name, (_, cap, kind) in scale.dims.items():
            best, why = _largest(probe, _ladder(lows[name], cap, kind), lambda v, n=name: {**current, n: v})
            current[name] = best
            limits[name] = why or "the cap"
        ok, _ = probe.fits(current)
        if not ok:
            for fraction in PULLBACK:
                pulled = {n: _pull(lows[n], current[n], kind, fraction) for n, (_, _, kind) in scale.dims.items()}
                ok, _ = probe.fits(pulled)
                if ok:
                    current = pulled
                    break
        lowered = False
        if all(current[n] <= lows[n] for n in scale.dims):  # nowhere to grow: the lowest level that fits
            for fraction in sorted(PULLBACK):
                pulled = {n: _pull(floor, lows[n], kind, fraction) for n, (floor, _, kind) in scale.dims.items()}
                if any(pulled[n] < lows[n] for n in pulled) and probe.fits(pulled)[0]:
                    lows, lowered = pulled, True
                    break
        dims = {n: (lows[n], current[n], kind) for n, (_, _, kind) in scale.dims.items()}
        figures = {
            "level_0": {n: low for n, (low, _, _) in dims.items()},
            "level_1": {n: high for n, (_, high, _) in dims.items()},
            "limited_by": limits,
            "draws": probe.draws,
            "discarded": probe.discarded,
            "budgets": {"prompt_chars": PROMPT_BUDGET, "reference_chars": REFERENCE_BUDGET, "lines": LINE_BUDGET,
                        "sample_seconds": TIME_BUDGET_S},
            "level_0_lowered": lowered,
        }
        if all(high <= low for low, high, _ in dims.values()):
            return StageReport(NAME, False, "the inputs cannot grow within the budgets: the difficulty would not "
                               f"move ({'; '.join(f'{n}: {w}' for n, w in limits.items())})", figures)  # fmt: skip
        found["scale"] = dataclasses.replace(scale, dims=dims, start={})
        grown = ", ".join(f"{n} {low} -> {high}" for n, (low, high, _) in dims.items())
        calls = f" ({scale.calls} calls an instance)" if scale.calls > 1 else ""
        calls += " (level 0 lowered: the examples' own scale is the largest)" if lowered else ""
        return StageReport(NAME, True, f"level 1 is {grown}{calls}; {probe.discarded} of {probe.draws} draws "
                           "discarded", {**figures, "calls": scale.calls})  # fmt: skip

    report = timed(NAME, body)
    return report, found.get("scale")


def _pull(low: float, high: float, kind: str, fraction: float) -> float:
    value = low + (high - low) * fraction
    return int(math.floor(value)) if kind == "int" else round(value, 4)
