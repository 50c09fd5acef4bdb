"""The staged validation pipeline: a candidate is admitted only if every stage passes.

Stages run cheapest first and stop at the first failure: static (no execution), execution (in the
sandbox), novelty (embeddings, no model call), then the two stages that need language models,
review (the generator reviews its own code) and calibration (the solver answers instances). A
stage that needs a model nobody gave is recorded as skipped, not passed silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envfoundry.synth.stages import calibration, execution, novelty, review, static
from envfoundry.synth.stages.base import Candidate, Context, StageReport

STAGES = (static, execution, novelty, review, calibration)
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
    """Run every stage in order on one candidate; the sandbox it used is closed afterwards."""
    context = context or Context()
    context.env, context.instances = None, {}
    result = Validation(candidate)
    try:
        for stage in STAGES:
            report = stage.run(candidate, context)
            result.reports.append(report)
            if not report.passed:
                break
        if result.admitted and context.env is not None:
            env = context.env
            result.info = {
                "version": env.version,
                "asymmetry": env.asymmetry,
                "family": env.family,
                "description": env.description,
                "calibration": _figures(result, calibration.NAME),
                "novelty": _figures(result, novelty.NAME),
            }
    finally:
        if context.env is not None:
            context.env.close()
            context.env = None
    return result


def _figures(result: Validation, name: str) -> dict[str, Any] | None:
    report = next((r for r in result.reports if r.name == name), None)
    return None if report is None else report.to_dict()
