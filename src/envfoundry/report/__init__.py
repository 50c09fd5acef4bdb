"""``envfoundry report RUN_DIR``: one self-contained HTML file about a run (plotly.js inlined, so
it opens without a network).

It reads the outputs of ``train`` (a run directory), ``synthesize`` and ``convert`` (an archive
directory), ``eval`` (an evaluation file, or a directory of them), ``evolve`` and ``engineer`` (run
directories), telling them apart by their files (``report.load``), and draws, section by section
(``report.sections``): a summary, an evolve run's stages, an engineer run's stages and proposals,
the synthesis funnel, pass rate over level, curriculum trajectories, dead-group share and reward
over steps, the archive's lineage tree and before/after evaluation tables. A section the run has no data for says so in one line.

>>> from envfoundry.report import write_report
>>> write_report("runs/quickstart")                          # doctest: +SKIP
PosixPath('runs/quickstart/report.html')
"""

from __future__ import annotations

import os
from pathlib import Path

from envfoundry.core.files import write_atomic
from envfoundry.errors import InvalidInputError
from envfoundry.report.load import detect_kind, load_run
from envfoundry.report.model import Run
from envfoundry.report.page import render_page
from envfoundry.report.sections import SECTION_IDS


def default_out(path: str | os.PathLike[str]) -> Path:
    """``RUN_DIR/report.html``; beside an evaluation file, ``NAME.report.html``."""
    path = Path(path).expanduser()
    return path.with_name(path.stem + ".report.html") if path.is_file() else path / "report.html"


def write_report(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of the run at ``path`` to ``out`` (default ``default_out(path)``); returns where."""
    run = load_run(path)
    target = Path(out).expanduser() if out is not None else default_out(path)
    if target.is_dir():
        raise InvalidInputError(f"cannot write the report to '{target}': it is a directory; give a file name")
    page = render_page(run)
    try:
        write_atomic(target, page)
    except OSError as exc:
        raise InvalidInputError(f"cannot write the report to '{target}': {exc.strerror or exc}") from None
    return target


__all__ = ["SECTION_IDS", "Run", "default_out", "detect_kind", "load_run", "render_page", "write_report"]
