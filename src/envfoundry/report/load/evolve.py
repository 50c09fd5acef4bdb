"""An ``evolve`` run directory::

    evolve.json          {"kind": "evolve", "config", "stages_done", "eval": [files], "stages": [...]}
    archive/             the run's archive
    stage-N/train/       each stage's train run directory
    eval/stage-N.json    held-out evaluation files; stage 0 is before any training

Each stage of ``stages``: ``{"stage", "synthesis": {"run_id" (or "run_ids"), "outcomes", "funnel"}, "generator":
{"proposals", "admitted", "mean_reward", ...}, "train", "eval", "seconds", "pass_rate",
"dead_group_share"}``. The stages' curriculum logs are drawn one after another.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from envfoundry.archive import Archive, archive_exists
from envfoundry.errors import InvalidInputError
from envfoundry.report.load.archive import read_archive
from envfoundry.report.load.evaluation import evaluation_facts, evaluation_files, is_evaluation, read_evaluation
from envfoundry.report.load.files import number, read_json, read_json_object
from envfoundry.report.load.train import read_log, read_steps
from envfoundry.report.model import Funnel, Run, Stage


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _inside(root: Path, relative: Any) -> Path | None:
    """``root / relative`` when ``relative`` is a path string (evolve.json writes them relative to the run)."""
    return root / relative if isinstance(relative, str) and relative else None


def load_evolve(root: Path) -> Run:
    data = read_json(root / "evolve.json")
    if not isinstance(data, dict) or data.get("kind") != "evolve":
        summary = root / "evolve.json"
        raise InvalidInputError(f"'{summary}' is not an evolve run's summary: it has no " + '"kind": "evolve"')
    run = Run("evolve", root)
    stages = sorted((s for s in data.get("stages") or [] if isinstance(s, dict) and isinstance(s.get("stage"), int)),
                    key=lambda s: s["stage"])  # fmt: skip
    _evaluations(root, data, run)
    archive = root / "archive"
    if archive_exists(archive):
        read_archive(archive, run, funnels=False)
        run.facts = [(key, value) for key, value in run.facts if key != "runs"]  # the stages say it
    offset = 0
    for entry in stages:
        synthesis, generator = _dict(entry.get("synthesis")), _dict(entry.get("generator"))
        seconds = {key: float(value) for key, value in _dict(entry.get("seconds")).items() if number(value) is not None}
        run.stages.append(Stage(
            stage=entry["stage"], proposals=generator.get("proposals"), admitted=generator.get("admitted"),
            generator_reward=number(generator.get("mean_reward")), pass_rate=number(entry.get("pass_rate")),
            dead_group_share=number(entry.get("dead_group_share")), seconds=seconds,
            run_ids=_run_ids(synthesis),
        ))  # fmt: skip
        funnel = _dict(synthesis.get("funnel"))
        if funnel:
            run.funnels.append(Funnel(f"stage {entry['stage']}", funnel))
        elif run.stages[-1].run_ids and archive_exists(archive):  # not recorded: the archive knows
            with Archive(archive) as opened:
                for run_id in run.stages[-1].run_ids:
                    run.funnels.append(Funnel(f"stage {entry['stage']} (run {run_id[:8]})", opened.funnel(run_id)))
        train = _inside(root, entry.get("train"))
        if train is None or not train.is_dir():
            run.notes.append(f"stage {entry['stage']} has no train directory{f' at {train}' if train else ''}")
            continue
        steps = read_steps(train / "curriculum.jsonl", run.notes, offset, entry["stage"])
        if steps:
            run.stage_starts.append((entry["stage"], offset + 1))
            run.log += read_log(train / "train_log.jsonl", run.notes, offset)
            run.steps += steps
            offset = steps[-1].step
    config = _dict(data.get("config"))
    run.facts = [
        ("stages done", str(data.get("stages_done", len(stages)))),
        *((str(key), _plain(value)) for key, value in config.items()),
        *run.facts,
    ]
    return run


def _evaluations(root: Path, data: dict[str, Any], run: Run) -> None:
    """The held-out evaluation files, stage 0 (before training) first: those ``evolve.json`` lists
    (the i-th after stage i), else ``eval/stage-N.json`` as found."""
    listed = [(index, relative) for index, relative in enumerate(data.get("eval") or [])]
    if not listed:
        found = [(re.fullmatch(r"stage-(\d+)\.json", path.name), path) for path in evaluation_files(root / "eval")]
        listed = [(int(match[1]), f"eval/{path.name}") for match, path in found if match]
    for stage, relative in listed:
        path = _inside(root, relative)
        evaluation = read_json_object(path, run.notes) if path else None
        if evaluation is None or not is_evaluation(evaluation):
            run.notes.append(f"the evaluation of stage {stage} ({relative}) is missing or not an evaluation file")
            continue
        label = f"stage {stage}" + (" (before training)" if stage == 0 else "")
        run.evaluations.append(read_evaluation(evaluation, label))
        run.evaluations[-1].about = {"file": str(relative), **evaluation_facts(evaluation)}
        run.evaluations[-1].stage = stage


def _run_ids(synthesis: dict[str, Any]) -> list[str]:
    """The stage's synthesis runs in the archive (``run_id``, or ``run_ids`` for several)."""
    ids = synthesis.get("run_ids") if isinstance(synthesis.get("run_ids"), list) else [synthesis.get("run_id")]
    return [run_id for run_id in ids if isinstance(run_id, str)]


def _plain(value: Any) -> str:
    """A configuration value as short text."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    return str(value)
