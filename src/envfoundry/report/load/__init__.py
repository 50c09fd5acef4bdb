"""Loading a run for a report: which kind of run a path holds, and its data as a ``Run``.

========  =================================================================  ============================
kind      recognised by                                                      written by
========  =================================================================  ============================
evolve    ``evolve.json``                                                     ``envfoundry evolve --out``
engineer  ``engineer.json``                                                   ``envfoundry engineer --out``
train     ``curriculum.jsonl``, or an ``eval.json`` with ``config``/``eval``  ``envfoundry train --out``
archive   ``archive.sqlite3``                                                 ``synthesize``, ``convert``
eval      a JSON file with ``"kind": "eval"``, or a directory of them         ``envfoundry eval --out``
========  =================================================================  ============================
"""

from __future__ import annotations

import os
from pathlib import Path

from envfoundry.archive import archive_exists
from envfoundry.errors import InvalidInputError
from envfoundry.report.load.archive import load_archive
from envfoundry.report.load.engineer import load_engineer
from envfoundry.report.load.evaluation import evaluation_files, is_evaluation, load_evaluation
from envfoundry.report.load.evolve import load_evolve
from envfoundry.report.load.files import read_json
from envfoundry.report.load.train import is_train_summary, load_train
from envfoundry.report.model import Run

LOADERS = {"evolve": load_evolve, "train": load_train, "archive": load_archive, "eval": load_evaluation,
           "engineer": load_engineer}


def detect_kind(path: str | os.PathLike[str]) -> str:
    """``evolve``, ``engineer``, ``train``, ``archive`` or ``eval``; anything else is an ``InvalidInputError``."""
    path = Path(path)
    if path.is_file():
        if is_evaluation(read_json(path)):
            return "eval"
        raise InvalidInputError(f"'{path}' is not an evaluation file (`envfoundry eval --out FILE` writes one): it has "
                                "no \"kind\": \"eval\" with \"results\"; give a run directory or an evaluation file")  # fmt: skip
    if not path.is_dir():
        raise InvalidInputError(f"'{path}' does not exist: give the directory of a train, synthesize, convert or "
                                "evolve run, or an evaluation file")  # fmt: skip
    if (path / "evolve.json").is_file():
        return "evolve"
    if (path / "engineer.json").is_file():
        return "engineer"
    if (path / "curriculum.jsonl").is_file() or _train_summary(path / "eval.json"):
        return "train"
    if archive_exists(path):
        return "archive"
    if evaluation_files(path):
        return "eval"
    raise InvalidInputError(f"'{path}' is not a run directory: it holds none of evolve.json (evolve), engineer.json "
                            "(engineer), eval.json or curriculum.jsonl (train), archive.sqlite3 (synthesize, convert) or "
                            "an evaluation file (eval)")  # fmt: skip


def _train_summary(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        return is_train_summary(read_json(path))
    except InvalidInputError:
        return False


def load_run(path: str | os.PathLike[str]) -> Run:
    """The run at ``path`` (its kind detected), ready to report."""
    path = Path(path).expanduser()
    return LOADERS[detect_kind(path)](path)
