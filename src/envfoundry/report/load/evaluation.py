"""Evaluation files (``envfoundry eval --out FILE``): ``{"kind": "eval", "model", "suite", "levels",
"results": {env: {level: {"pass_rate", "format_rate", "mean_reward", "n", "errors", "examples"}}},
"pass_rate", ...}``. A report reads one file, or a directory of them, compared in name order
(``stage-2`` before ``stage-10``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.report.load.files import number, read_json
from envfoundry.report.model import Evaluation, Run


def is_evaluation(data: Any) -> bool:
    return isinstance(data, dict) and data.get("kind") == "eval" and isinstance(data.get("results"), dict)


def _natural(path: Path) -> list[Any]:
    """Sort key: ``stage-2`` before ``stage-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def evaluation_files(root: Path) -> list[Path]:
    """The evaluation files directly in ``root``, by name (numbers in names compared as numbers)."""
    found = []
    for path in sorted(root.glob("*.json"), key=_natural):
        try:
            if path.is_file() and is_evaluation(read_json(path)):
                found.append(path)
        except InvalidInputError:
            continue  # not ours to judge: only evaluation files are reported
    return found


def read_evaluation(data: dict[str, Any], label: str) -> Evaluation:
    """An ``Evaluation`` from an evaluation file's JSON."""
    evaluation = Evaluation(label, {}, pass_rate=number(data.get("pass_rate")))
    for env, cells in data["results"].items():
        if not isinstance(cells, dict):
            continue
        for level, cell in cells.items():
            if not isinstance(cell, dict) or number(cell.get("pass_rate")) is None:
                continue
            env, level = str(env), str(level)
            evaluation.pass_rates.setdefault(env, {})[level] = number(cell["pass_rate"])
            for field, key in ((evaluation.format_rates, "format_rate"), (evaluation.mean_rewards, "mean_reward"),
                               (evaluation.counts, "n"), (evaluation.errors, "errors")):  # fmt: skip
                if number(cell.get(key)) is not None:
                    field.setdefault(env, {})[level] = cell[key]
            examples = [example for example in cell.get("examples") or [] if isinstance(example, dict)]
            if examples:
                evaluation.examples.setdefault(env, {})[level] = examples
    return evaluation


def evaluation_facts(data: dict[str, Any]) -> dict[str, str]:
    """What an evaluation file says about itself, for the summary's table."""
    levels = [f"{level:g}" for level in data.get("levels") or [] if number(level) is not None]
    facts = {
        "model": str(data.get("model", "?")),
        "backend": str(data.get("backend", "?")),
        "suite": str(data.get("suite", "?")),
        "environments": str(len(data.get("envs") or data["results"])),
        "levels": ", ".join(levels),
        "instances per level": str(data.get("seeds", "?")),
    }
    for key, label in (("pass_rate", "pass rate"), ("format_rate", "answer-block rate")):
        value = number(data.get(key))
        facts[label] = f"{value:.1%}" if value is not None else "?"
    seconds = number(data.get("seconds"))
    facts["seconds"] = f"{seconds:.1f}" if seconds is not None else "?"
    return facts


def load_evaluation(path: Path) -> Run:
    """One evaluation file, or every evaluation file in a directory."""
    files = [path] if path.is_file() else evaluation_files(path)
    run = Run("eval", path)
    for file in files:
        data = read_json(file)
        if not is_evaluation(data):
            raise InvalidInputError(f"'{file}' is not an evaluation file (`envfoundry eval --out FILE` writes one): "
                                    "it has no \"kind\": \"eval\" with \"results\"")  # fmt: skip
        evaluation = read_evaluation(data, data_label(data) if len(files) == 1 else f"{file.stem}: {data_label(data)}")
        evaluation.about = {"file": file.name, **evaluation_facts(data)}
        run.evaluations.append(evaluation)
    if len(files) == 1:
        run.facts = list(run.evaluations[0].about.items())
    else:
        run.facts = [("evaluations", f"{len(files)} files in '{path}', compared in name order")]
    return run


def data_label(data: dict[str, Any]) -> str:
    return str(data.get("model", "?"))
