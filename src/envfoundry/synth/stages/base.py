"""What every validation stage shares: the candidate, the context, the report.

A stage is one file with a ``run(candidate, context) -> StageReport`` function and a ``NAME``.
Stages never raise for anything the candidate does: a failure is a report with ``passed=False``
and a one-sentence ``reason``, plus the figures that led to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envfoundry.sandbox.isolation import SandboxUnavailable


@dataclass
class Candidate:
    """Environment source under validation, with where it came from.

    ``lineage``: ``{"mode": "new" | "mutate" | "repair" | "user", "parents": [names or hashes],
    "generator": model name or None}``.
    """

    source: str
    filename: str = "candidate.py"
    lineage: dict[str, Any] = field(default_factory=dict)
    # What the novelty stage compares when not the whole source: a converted problem's own code,
    # without the wrapper every converted module shares (set by trusted host code, never read from
    # the candidate).
    novelty_source: str | None = None
    # Filled in by the stages as they learn it.
    name: str | None = None


@dataclass
class StageReport:
    name: str
    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    # True when the stage did not run (e.g. it needs a model and none was given); passed is True then.
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "skipped": self.skipped,
            "reason": self.reason,
            "seconds": round(self.seconds, 4),
            **self.figures,
        }


@dataclass
class Context:
    """What stages may use besides the candidate.

    generator: chat model that wrote candidates (reviews them); solver: chat model that answers
    calibration instances; novelty_index: ``NoveltyIndex`` of the seeds and the archive;
    sandbox_options: passed to ``SandboxedEnvironment``; env: the candidate's sandboxed environment,
    set by the execution stage and used by the later ones (closed by the pipeline); executor: where
    a batch's sandbox stages and calibration's scoring run (``envfoundry.executor``; None: here).
    """

    generator: Any = None
    solver: Any = None
    novelty_index: Any = None
    sandbox_options: dict[str, Any] = field(default_factory=dict)
    executor: Any = None
    env: Any = None
    instances: dict[float, list[Any]] = field(default_factory=dict)
    # Budgets of the model stages.
    reviews: int = 3
    calibration_per_level: int = 8
    max_tokens: int = 384


def timed(name: str, body: Callable[[], StageReport]) -> StageReport:
    """Run a stage body, time it, and turn an unexpected exception into a failed report."""
    started = time.process_time()
    wall = time.perf_counter()
    try:
        report = body()
    except SandboxUnavailable:
        raise  # not the candidate's fault: no candidate can be judged on this machine until it is fixed
    except Exception as exc:  # noqa: BLE001 - a stage must report, never raise
        report = StageReport(name, False, f"the {name} stage raised {type(exc).__name__}: {exc}")
    report.seconds = time.perf_counter() - wall
    report.figures.setdefault("cpu_seconds", round(time.process_time() - started, 4))
    return report
