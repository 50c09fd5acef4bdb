"""What the engineer reads after a stage: per configuration cell, how the policy did and why it
failed, plus the training statistics of the stage.

A *cell* is one configuration (a full parameter dict of the environment's space). Each stage is
evaluated on the configuration it trained on (``current``) and, to show the engineer which way the
difficulty moves the policy, on its neighbours one step easier and one step harder in the
*probed* dimension: the one furthest along its difficulty range (ties: the first in the space's
order), so the probe follows whatever the engineer has been raising. The validation cells are fixed
levels of the space, the same for every engineer and stage, so runs can be compared.

Each cell's figures come from ``evaluate.evaluate_envs`` on held-out seeds (greedy, training's
prompt): pass rate, mean reward and its spread, the share of replies with an answer block, the
count per failure class (``Verdict.failure``: for MAPF-FrozenLake ``unparseable``,
``illegal_move``, ``agent_conflict``, ``hole_collision``, ``timeout``, ``wrong_goal``) and the
first failing replies with the verifier's reason. The training statistics (dead-group share, mean
reward, accuracy) come from the stage's ``curriculum.jsonl``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from envfoundry.core.params import ChoiceParam, IntParam, Param, ParamSpace

CURRENT = "current"
VALIDATION = "validation level "  # a validation cell's label: this, then its level
STEP_FRACTION = 0.2  # one probe step: a fifth of a dimension's range (at least 1 for an integer)
EXAMPLE_CHARS = 200  # each failing reply the summary keeps, cut to this


def difficulty(param: Param, value: Any) -> float:
    """How far ``value`` lies along the dimension's difficulty, 0 (easiest) to 1 (hardest)."""
    if isinstance(param, ChoiceParam):
        return param.choices.index(value) / (len(param.choices) - 1) if len(param.choices) > 1 else 0.0
    if param.high == param.low:
        return 0.0
    if param.scale == "log":
        fraction = math.log(value / param.low) / math.log(param.high / param.low)
    else:
        fraction = (value - param.low) / (param.high - param.low)
    fraction = min(max(fraction, 0.0), 1.0)
    return fraction if param.harder == "up" else 1.0 - fraction


def step(param: Param, value: Any, harder: bool) -> Any | None:
    """``value`` moved one step harder (or easier) along the dimension; None at the end of its range."""
    if isinstance(param, ChoiceParam):
        index = param.choices.index(value) + (1 if harder else -1)
        return param.choices[index] if 0 <= index < len(param.choices) else None
    up = harder == (param.harder == "up")
    if isinstance(param, IntParam):
        moved = value + (1 if up else -1) * max(1, round(STEP_FRACTION * (param.high - param.low)))
    elif param.scale == "log":
        moved = value * (param.high / param.low) ** (STEP_FRACTION if up else -STEP_FRACTION)
    else:
        moved = value + (1 if up else -1) * STEP_FRACTION * (param.high - param.low)
    moved = min(max(moved, param.low), param.high)
    if isinstance(param, IntParam):
        moved = int(moved)
    else:
        moved = round(float(moved), 6)
    return None if moved == value else moved


def movable(space: ParamSpace) -> list[str]:
    """The dimensions that can change at all (a dimension with one value cannot)."""
    return [name for name, param in space.items()
            if (len(param.choices) > 1 if isinstance(param, ChoiceParam) else param.high > param.low)]  # fmt: skip


def probe_dimension(space: ParamSpace, config: Mapping[str, Any]) -> str | None:
    """The dimension furthest along its difficulty range (ties: the first in the space's order)."""
    names = movable(space)
    return max(names, key=lambda name: (difficulty(space[name], config[name]), -names.index(name)), default=None)


def probe_cells(space: ParamSpace, config: Mapping[str, Any], probe: bool = True) -> dict[str, dict[str, Any]]:
    """``{"current": config, "<dim> harder": ..., "<dim> easier": ...}``: the configuration and, with
    ``probe``, its neighbours one step each way in the probed dimension (where they exist)."""
    cells = {CURRENT: dict(config)}
    dimension = probe_dimension(space, config) if probe else None
    if dimension is not None:
        for harder, word in ((True, "harder"), (False, "easier")):
            moved = step(space[dimension], config[dimension], harder)
            if moved is not None:
                cells[f"{dimension} {word}"] = {**config, dimension: moved}
    return cells


def validation_cells(space: ParamSpace, levels: Sequence[float]) -> dict[str, dict[str, Any]]:
    """The fixed validation configurations: the space at each level."""
    return {f"{VALIDATION}{level:g}": space.at_level(level) for level in levels}


def cell_figures(result: Mapping[str, Any]) -> dict[str, Any]:
    """One evaluated cell (``evaluate_envs``' per-level result) as the summary keeps it."""
    examples = [{"seed": example.get("seed"), "failure": example.get("failure"), "reason": example.get("reason", ""),
                 "reply": _clip(example.get("reply", ""))} for example in result.get("examples", [])]  # fmt: skip
    return {key: result[key] for key in ("pass_rate", "mean_reward", "reward_std", "format_rate", "n", "errors",
                                         "failures")} | {"examples": examples}  # fmt: skip


def training_statistics(train_summary: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The stage's training as the engineer reads it: from ``train``'s summary (``eval.json``) and its
    curriculum steps (``curriculum.jsonl``)."""
    rewards = [step["reward_mean"] for step in steps if isinstance(step.get("reward_mean"), (int, float))]
    accuracy = [env["accuracy"] for step in steps for env in (step.get("envs") or {}).values()
                if isinstance(env.get("accuracy"), (int, float))]  # fmt: skip
    return {
        "steps": train_summary.get("steps", len(steps)),
        "dead_group_share": train_summary.get("dead_group_share"),
        "dead_unsolved_share": train_summary.get("dead_unsolved_share"),
        "dead_group_share_per_step": list(train_summary.get("dead_group_share_per_step") or []),
        "reward_mean": statistics.fmean(rewards) if rewards else None,
        "accuracy": statistics.fmean(accuracy) if accuracy else None,
        "seconds": train_summary.get("seconds"),
    }


def summarise(stage: int, config: Mapping[str, Any], cells: Mapping[str, Mapping[str, Any]],
              validation: Mapping[str, Mapping[str, Any]], results: Mapping[str, Mapping[str, Any]],
              training: Mapping[str, Any], probe: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The stage's summary: its configuration, training statistics, the probed dimension, every
    probe cell (figures, failure classes, failing replies) and the validation cells' pass rates.

    ``results`` maps each cell label (probe and validation) to its evaluated figures.
    """
    validated = {label: {"level": float(label.removeprefix(VALIDATION)), "params": dict(params),
                         **cell_figures(results[label])} for label, params in validation.items()}  # fmt: skip
    return {
        "stage": stage,
        "config": dict(config),
        "training": dict(training),
        "probe": probe,
        "cells": [{"cell": label, "params": dict(params), **cell_figures(results[label])}
                  for label, params in cells.items()],  # fmt: skip
        "validation": {
            "pass_rate": statistics.fmean(cell["pass_rate"] for cell in validated.values()) if validated else None,
            "cells": validated,
        },
    }


def current_cell(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's cell for the configuration the stage trained on."""
    return next(cell for cell in summary["cells"] if cell["cell"] == CURRENT)


def params_key(params: Mapping[str, Any]) -> str:
    """A configuration as text that is equal exactly when the configurations are."""
    return json.dumps(dict(params), sort_keys=True)


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"
