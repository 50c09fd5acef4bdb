"""``envfoundry report RUN_DIR``: one self-contained HTML report of a train, synthesize, convert,
eval or evolve run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from envfoundry.cli.errors import UsageError


def cmd_report(args: argparse.Namespace) -> int:
    try:
        from envfoundry.report import write_report
    except ImportError as exc:
        raise UsageError(f"the report needs plotly (pip install 'envfoundry[report]'): {exc}") from None
    try:
        path = write_report(args.run_dir, args.out)
    except ImportError as exc:  # plotly, imported when the first figure is drawn
        raise UsageError(f"the report needs plotly (pip install 'envfoundry[report]'): {exc}") from None
    except ValueError as exc:  # not a run, an unreadable file, a broken archive: one line
        raise UsageError(str(exc)) from None
    print(path)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report of a run (train, synthesize, convert, "
                                      "eval, evolve)")  # fmt: skip
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a train or evolve run directory, an archive (synthesize, convert), or an evaluation file "
                        "(or a directory of them)")  # fmt: skip
    p.add_argument("--out", default=None, metavar="FILE",
                   help="where to write the HTML (default: RUN_DIR/report.html; beside an evaluation file, "
                        "NAME.report.html)")  # fmt: skip
    p.set_defaults(func=cmd_report)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry report`")
