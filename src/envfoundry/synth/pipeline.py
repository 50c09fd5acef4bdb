"""The staged validation pipeline: a candidate is admitted only if every stage passes.

Stages run cheapest first and stop at the first failure: static (no execution), execution (in the
sandbox), novelty (embeddings, no model call), then the two stages that need language models,
review (the generator reviews its own code) and calibration (the solver answers instances). A
stage that needs a model nobody gave is recorded as skipped, not passed silently.

``validate`` runs every stage of one candidate in this process. A batch runs in two halves, so
that it grows with the machines given to it: ``prevalidate`` runs the sandbox stages (static,
execution: no model, nothing shared between candidates) wherever an executor puts it, a worker
process or a Ray task, and samples there the instances calibration will ask for; ``finish`` then
runs the host stages in the candidates' order, because novelty compares each candidate with those
admitted before it and the model stages call models this process holds. Calibration's scoring of
the solver's answers goes back to the executor, where a fresh sandbox scores them, so untrusted
code runs only where the executor runs it. Both halves give the reports ``validate`` gives.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envfoundry.core.environment import Instance, Verdict
from envfoundry.executor import Executor, LocalExecutor
from envfoundry.sandbox import SandboxedEnvironment, SandboxError
from envfoundry.synth.stages import calibration, execution, novelty, review, static
from envfoundry.synth.stages.base import Candidate, Context, StageReport

SANDBOX_STAGES = (static, execution)
HOST_STAGES = (novelty, review, calibration)
STAGES = SANDBOX_STAGES + HOST_STAGES
STAGE_NAMES = tuple(stage.NAME for stage in STAGES)


@dataclass
class Validation:
    """The outcome for one candidate: every report, and whether it was admitted."""

    candidate: Candidate
    reports: list[StageReport] = field(default_factory=list)
    # Facts about the admitted environment (description, space, calibration, novelty) for the archive.
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def admitted(self) -> bool:
        # Every stage ran and passed (a converter's own stages may come first).
        ran = {r.name for r in self.reports}
        return all(r.passed for r in self.reports) and ran >= set(STAGE_NAMES)

    @property
    def failed(self) -> StageReport | None:
        return next((r for r in self.reports if not r.passed), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.candidate.name,
            "admitted": self.admitted,
            "stages": [r.to_dict() for r in self.reports],
        }


def validate(candidate: Candidate, context: Context | None = None) -> Validation:
    """Run every stage in order on one candidate, in this process; the sandbox it used is closed afterwards."""
    context = context or Context()
    context.env, context.instances = None, {}
    result = Validation(candidate)
    try:
        if _run(SANDBOX_STAGES, candidate, context, result):
            _run(HOST_STAGES, candidate, context, result)
        _describe_admitted(result, context.env)
    finally:
        if context.env is not None:
            context.env.close()
            context.env = None
    return result


def _run(stages: Sequence[Any], candidate: Candidate, context: Context, result: Validation) -> bool:
    """Run ``stages`` until one fails, adding their reports to ``result``; whether all passed."""
    for stage in stages:
        report = stage.run(candidate, context)
        result.reports.append(report)
        if not report.passed:
            return False
    return True


def _describe_admitted(result: Validation, env: Any) -> None:
    if result.admitted and env is not None:
        result.info = {
            "version": env.version,
            "asymmetry": env.asymmetry,
            "family": env.family,
            "description": env.description,
            "calibration": _figures(result, calibration.NAME),
            "novelty": _figures(result, novelty.NAME),
        }


def _figures(result: Validation, name: str) -> dict[str, Any] | None:
    report = next((r for r in result.reports if r.name == name), None)
    return None if report is None else report.to_dict()


# ----- a batch: the sandbox stages where the executor runs them, the host stages here ---------------
@dataclass
class Prevalidation:
    """What the sandbox stages learnt about one candidate where they ran (it travels back from a
    worker, so it is plain data): its environment's name, their reports, the instances they sampled,
    the environment's description once it loaded, and the ``sample_many`` calls calibration will
    make, made ahead (``(seeds, level, params)`` -> instances, or the failure's class and message)."""

    name: str | None
    reports: list[StageReport]
    instances: dict[float, list[Instance]] = field(default_factory=dict)
    description: dict[str, Any] | None = None
    samples: dict[tuple, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.description is not None and all(report.passed for report in self.reports)


def prevalidate(candidate: Candidate, sandbox_options: Mapping[str, Any] | None = None,
                calibration_per_level: int = 0) -> Prevalidation:  # fmt: skip
    """The sandbox stages (static, execution) on one candidate, in this process, which is an
    executor's worker; never raises for anything the candidate does. With ``calibration_per_level``
    (a solver will calibrate), a candidate that passes also samples the calibration's instances."""
    context = Context(sandbox_options=dict(sandbox_options or {}), calibration_per_level=calibration_per_level)
    result = Validation(candidate)
    description, samples = None, {}
    try:
        passed = _run(SANDBOX_STAGES, candidate, context, result)
        if context.env is not None:
            env = context.env
            description = {key: getattr(env, key) for key in ("name", "version", "asymmetry", "family", "description")}
            if passed and calibration_per_level > 0:
                recorder = _SampleRecorder(env)
                try:
                    calibration.sample_instances(recorder, calibration_per_level)
                except Exception:  # noqa: BLE001 - recorded: the calibration stage meets it on the host
                    pass
                samples = recorder.calls
    finally:
        if context.env is not None:
            context.env.close()
    return Prevalidation(candidate.name, result.reports, context.instances, description, samples)


def prevalidate_many(candidates: Sequence[Candidate], context: Context, *, progress: bool = False) -> list[Prevalidation]:
    """``prevalidate`` for every candidate on ``context.executor`` (this process when None), in order."""
    per_level = context.calibration_per_level if context.solver is not None else 0
    job = functools.partial(prevalidate, sandbox_options=context.sandbox_options, calibration_per_level=per_level)
    return _executor(context).map(job, list(candidates), desc="sandbox stages", progress=progress)


def finish(candidate: Candidate, prevalidation: Prevalidation, context: Context) -> Validation:
    """The host stages (novelty, review, calibration) of a candidate ``prevalidate`` judged
    elsewhere, with its reports first; calibration scores on ``context.executor``."""
    candidate.name = prevalidation.name
    result = Validation(candidate, list(prevalidation.reports))
    context.instances = dict(prevalidation.instances)
    context.env = None
    if prevalidation.passed:
        context.env = RemoteCandidate(candidate, prevalidation, context)
        _run(HOST_STAGES, candidate, context, result)
        _describe_admitted(result, context.env)
        context.env = None
    return result


def _executor(context: Context) -> Executor:
    return context.executor if context.executor is not None else LocalExecutor(workers=1)


class RemoteCandidate:
    """A candidate environment as the host stages see it when its code ran elsewhere: its
    description, the instances sampled there, and scoring sent back to the executor, where a fresh
    sandbox (started as the execution stage starts one) scores the answers."""

    def __init__(self, candidate: Candidate, prevalidation: Prevalidation, context: Context) -> None:
        for key, value in (prevalidation.description or {}).items():
            setattr(self, key, value)
        self._candidate = candidate
        self._samples = prevalidation.samples
        self._context = context

    def sample_many(self, seeds: Sequence[int], level: float | None = None,
                    params: Mapping[str, Any] | None = None) -> list[Instance]:  # fmt: skip
        found = self._samples.get(_sample_key(seeds, level, params))
        if found is None:  # not made ahead: sample where the executor runs
            found = self._in_sandbox("sample", (list(seeds), level, dict(params or {})))
        if isinstance(found, tuple):  # (class name, message) of the failure met ahead
            raise type(found[0], (SandboxError,), {})(found[1])
        return list(found)

    def score_many(self, instances: Sequence[Instance], responses: Sequence[str]) -> list[Verdict]:
        return self._in_sandbox("score", (list(instances), list(responses)))

    def _in_sandbox(self, op: str, args: tuple) -> Any:
        job = functools.partial(in_sandbox, self._candidate.source, self._candidate.filename,
                                dict(self._context.sandbox_options), op)  # fmt: skip
        return _executor(self._context).map(job, [args], desc=op, progress=False)[0]

    def close(self) -> None:
        """Nothing to stop: every call started and stopped its own sandbox."""


def in_sandbox(source: str, filename: str, sandbox_options: Mapping[str, Any], op: str, args: tuple) -> Any:
    """Start the candidate's sandbox here, as the execution stage does, and run ``op`` in it:
    ``"score"`` (instances, responses) -> verdicts, or ``"sample"`` (seeds, level, params) ->
    instances, or the failure's (class name, message)."""
    options = {"limits": execution.DEFAULT_LIMITS, "workers": 1, **sandbox_options}
    with SandboxedEnvironment(source=source, filename=filename, **options) as env:
        if op == "score":
            return env.score_many(*args)
        seeds, level, params = args
        try:
            return env.sample_many(seeds, level=level, params=params or None)
        except (SandboxError, ValueError) as exc:
            return (type(exc).__name__, str(exc))


def _sample_key(seeds: Sequence[int], level: float | None, params: Mapping[str, Any] | None) -> tuple:
    return tuple(seeds), level, tuple(sorted((params or {}).items()))


class _SampleRecorder:
    """The candidate's environment, keeping every ``sample_many`` call's outcome in ``calls``."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.calls: dict[tuple, Any] = {}

    def sample_many(self, seeds: Sequence[int], level: float | None = None,
                    params: Mapping[str, Any] | None = None) -> list[Instance]:  # fmt: skip
        key = _sample_key(seeds, level, params)
        try:
            found = self.env.sample_many(list(seeds), level=level, params=params)
        except Exception as exc:  # noqa: BLE001 - replayed on the host, where the stage reports it
            self.calls[key] = (type(exc).__name__, str(exc))
            raise
        self.calls[key] = found
        return found
