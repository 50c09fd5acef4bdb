"""Stage 2, execution: the candidate runs in the sandbox and must behave like a sound environment.

Everything runs against a ``SandboxedEnvironment``; the checks themselves run here, on the host,
so a candidate cannot tamper with them. On top of the check battery of ``checks.battery`` (references
score 1.0, wrong answers of every kind score < 1, no leak, determinism, difficulty grows, sampling
time), this stage asks for:

* determinism across processes: the same instances after every worker is replaced by a fresh
  process (another hash seed);
* non-triviality: at level 0.5, at least ``MIN_DISTINCT_REFERENCES`` distinct references in
  ``TRIVIALITY_DRAWS`` draws (fewer where the answers are a small integer range: 60% of the range
  seen), and the most common one at most ``MAX_COMMON_SHARE`` of them;
* size budgets per instance: prompt, reference and state.

The per-call time budget is the sandbox's own limit (a call over it fails the stage).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from envfoundry.checks.battery import LEVELS, CheckResult, check_environment
from envfoundry.sandbox import SandboxedEnvironment, SandboxError
from envfoundry.sandbox.limits import SandboxLimits
from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "execution"
SEEDS = tuple(range(8))
TRIVIALITY_DRAWS = 100
TRIVIALITY_LEVEL = 0.5
MIN_DISTINCT_REFERENCES = 10
MAX_COMMON_SHARE = 0.3
MAX_PROMPT_CHARS = 16_000
MAX_REFERENCE_CHARS = 4_000
MAX_STATE_BYTES = 1 << 20
DEFAULT_LIMITS = SandboxLimits(call_timeout_s=2.0)


def needed_distinct(references: list[str]) -> int:
    """``MIN_DISTINCT_REFERENCES``, or fewer where the answer space is a small integer range (an
    edit distance between short strings has only so many values): 60% of the range seen."""
    try:
        values = [int(reference) for reference in references]
    except ValueError:
        return MIN_DISTINCT_REFERENCES
    return min(MIN_DISTINCT_REFERENCES, math.ceil(0.6 * (max(values) - min(values) + 1)))


def _nontrivial(env: Any) -> CheckResult:
    seeds = range(10_000, 10_000 + TRIVIALITY_DRAWS)
    references = [i.reference.strip() for i in env.sample_many(list(seeds), level=TRIVIALITY_LEVEL)]
    counts = Counter(references)
    common, count = counts.most_common(1)[0]
    needed = needed_distinct(references)
    figures = {"distinct_references": len(counts), "most_common_share": count / len(references), "needed": needed}
    if len(counts) < needed:
        return CheckResult("nontrivial", False, f"only {len(counts)} distinct references in {len(references)} draws "
                           f"at level {TRIVIALITY_LEVEL} (need {needed})", figures)  # fmt: skip
    if count / len(references) > MAX_COMMON_SHARE:
        return CheckResult("nontrivial", False, f"the reference {common[:40]!r} is {count / len(references):.0%} of "
                           f"{len(references)} draws (at most {MAX_COMMON_SHARE:.0%})", figures)  # fmt: skip
    return CheckResult("nontrivial", True, f"{len(counts)} distinct references in {len(references)} draws", figures)


def _sizes(samples: dict[float, list[Any]]) -> CheckResult:
    largest = {"prompt_chars": 0, "reference_chars": 0, "state_bytes": 0}
    for instances in samples.values():
        for instance in instances:
            largest["prompt_chars"] = max(largest["prompt_chars"], len(instance.prompt))
            largest["reference_chars"] = max(largest["reference_chars"], len(instance.reference))
            largest["state_bytes"] = max(largest["state_bytes"], len(json.dumps(instance.state)))
    limits = {"prompt_chars": MAX_PROMPT_CHARS, "reference_chars": MAX_REFERENCE_CHARS, "state_bytes": MAX_STATE_BYTES}
    for key, limit in limits.items():
        if largest[key] > limit:
            return CheckResult("sizes", False, f"an instance has {largest[key]} {key.replace('_', ' ')} (at most {limit})",
                               largest)  # fmt: skip
    return CheckResult("sizes", True, "prompts, references and states within budget", largest)


def _across_processes(env: Any) -> CheckResult:
    requests = [(seed, level) for seed in SEEDS[:4] for level in (0.0, 1.0)]
    before = [env.sample(seed, level=level).to_json() for seed, level in requests]
    env.restart_workers()
    after = [env.sample(seed, level=level).to_json() for seed, level in requests]
    for (seed, level), first, second in zip(requests, before, after, strict=True):
        if first != second:
            return CheckResult("determinism_across_processes", False,
                               f"seed {seed} at level {level} differs in a fresh process")  # fmt: skip
    return CheckResult("determinism_across_processes", True, f"{len(requests)} instances identical in fresh processes")


def run(candidate: Candidate, context: Context) -> StageReport:
    def body() -> StageReport:
        options = {"limits": DEFAULT_LIMITS, "workers": 1, **context.sandbox_options}
        try:
            env = SandboxedEnvironment(source=candidate.source, filename=candidate.filename, **options)
        except (SandboxError, ValueError) as exc:
            return StageReport(NAME, False, f"it does not load in the sandbox: {exc}")
        context.env = env
        candidate.name = env.name
        results = check_environment(env, seeds=SEEDS, levels=LEVELS)
        checks = {r.name: r.to_dict() for r in results}
        failed = next((r for r in results if not r.passed), None)
        if failed is None:
            samples = {level: env.sample_many(list(SEEDS), level=level) for level in LEVELS}
            context.instances = samples
            for extra in (lambda: _nontrivial(env), lambda: _sizes(samples), lambda: _across_processes(env)):
                try:
                    result = extra()
                except (SandboxError, ValueError) as exc:
                    result = CheckResult("sandbox", False, f"a call failed in the sandbox: {exc}")
                checks[result.name] = result.to_dict()
                if not result.passed:
                    failed = result
                    break
        figures = {"checks": checks, "seeds": len(SEEDS), "levels": list(LEVELS)}
        if failed is not None:
            return StageReport(NAME, False, f"{failed.name}: {failed.reason}", figures)
        return StageReport(NAME, True, f"{len(checks)} checks passed over {len(SEEDS)} seeds x {len(LEVELS)} levels",
                           figures)  # fmt: skip

    return timed(NAME, body)
