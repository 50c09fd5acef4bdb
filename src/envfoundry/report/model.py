"""What a report shows, whatever kind of run it came from: a loader (``report.load``) fills a
``Run`` from the files of a train run, an archive, an evaluation or an evolve run, and each section
(``report.sections``) draws from the ``Run`` alone; an environment-engineer run too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The run kinds, as a sentence names them ("no curriculum in a synthesis archive").
KINDS = {
    "train": "a train run",
    "archive": "a synthesis archive",
    "eval": "an evaluation",
    "evolve": "an evolve run",
    "engineer": "an environment-engineer run",
}

Rates = dict[str, dict[str, float]]  # environment -> level (as written, "0.5") -> rate


@dataclass
class Evaluation:
    """Held-out results of one model at one moment: ``pass_rates[env][level]``, and alike the
    share of replies with an answer block, the mean reward, the instance and error counts, and a
    few failing replies (``examples[env][level]``: ``{"seed", "reply", "reason"}``), where known."""

    label: str
    pass_rates: Rates
    format_rates: Rates = field(default_factory=dict)
    mean_rewards: Rates = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    pass_rate: float | None = None  # over every instance, when the file says
    about: dict[str, str] = field(default_factory=dict)  # model, suite, ... (evaluation files)
    stage: int | None = None  # the evolve stage it follows (0: before training)

    @property
    def overall(self) -> float | None:
        """The overall pass rate: the file's own figure, else the mean over environments and levels."""
        if self.pass_rate is not None:
            return self.pass_rate
        cells = [rate for curve in self.pass_rates.values() for rate in curve.values()]
        return sum(cells) / len(cells) if cells else None


@dataclass
class Step:
    """One training step of the curriculum (``curriculum.jsonl``), numbered across the whole run
    (an evolve run's stages one after another)."""

    step: int
    stage: int | None
    envs: dict[str, dict[str, float]]  # environment -> level, accuracy, dead_share, reward_mean ...
    dead_share: float | None
    dead_unsolved_share: float | None
    reward_mean: float | None
    swaps: list[dict[str, str]]  # {"out", "in", "reason"}
    active: list[str]


@dataclass
class Funnel:
    """One synthesis or conversion run's funnel, as ``Archive.funnel`` gives it."""

    label: str
    counts: dict[str, Any]


@dataclass
class Candidate:
    """One validated candidate of the archive, for the lineage tree."""

    id: int
    name: str | None
    admitted: bool
    failed_stage: str | None
    reason: str
    mode: str
    parents: list[str]
    run_id: str | None
    source_hash: str = ""


@dataclass
class Stage:
    """One stage of an evolve run (``evolve.json``'s ``stages``)."""

    stage: int
    proposals: int | None
    admitted: int | None
    generator_reward: float | None
    pass_rate: float | None
    dead_group_share: float | None
    seconds: dict[str, float]
    run_ids: list[str]  # its synthesis runs in the archive


@dataclass
class EngineerStage:
    """One stage of an environment-engineer run (a line of ``stages.jsonl``): the configuration it
    trained on, how the policy did after it, and what the engineer made of that."""

    stage: int
    config: dict[str, Any]
    pass_rate: float | None  # held-out, on the configuration trained on
    validation_pass_rate: float | None  # held-out, on the fixed validation configurations
    dead_group_share: float | None  # of the stage's training
    failures: dict[str, int]  # failure class -> count, on the configuration trained on
    outcome: str  # accepted, repaired, rejected (the previous configuration stood) or rule (a baseline)
    diff: list[dict[str, Any]]  # {"param", "from", "to"}
    rationale: str
    note: str
    adjusted: list[str]  # clamps and roundings of the proposal
    replies: list[dict[str, Any]]  # the model engineer's replies, {"reply", "error"}


@dataclass
class Run:
    """Everything a report draws, from one run directory (or evaluation file)."""

    kind: str  # a key of KINDS
    path: Path
    facts: list[tuple[str, str]] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    funnels: list[Funnel] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)  # in time order: the first is "before"
    calibration: Rates = field(default_factory=dict)  # admitted environment -> level -> solver pass rate
    steps: list[Step] = field(default_factory=list)
    log: list[dict[str, float]] = field(default_factory=list)  # TRL's logs: {"step", "reward", "loss", ...}
    stage_starts: list[tuple[int, int]] = field(default_factory=list)  # (stage, its first step)
    candidates: list[Candidate] = field(default_factory=list)
    engineer_stages: list[EngineerStage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was missing or unreadable while loading

    @property
    def described(self) -> str:
        return KINDS[self.kind]
