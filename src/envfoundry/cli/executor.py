"""``--executor local|ray`` and ``--workers N``: where a command's batches of sandboxed work run.

The commands whose work grows with the machines given to them (``check`` of several files,
``synthesize``, ``archive add``, ``convert``, ``score-batch``) take these options; the executor is
started for the command and released when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from envfoundry.cli.errors import UsageError, first_line
from envfoundry.errors import EnvfoundryError


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="where the sandboxed work runs: local (a process pool on this machine, the default) or "
                             "ray (the Ray cluster RAY_ADDRESS names, else a new local one)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local: processes in the pool (default: one per core); ray: tasks in flight "
                             "(default: as many as the cluster schedules)")  # fmt: skip


@contextlib.contextmanager
def executor_from(args: argparse.Namespace) -> Iterator[Any]:
    """The executor the options ask for, released when the block ends; a bad choice (or Ray not
    installed or unreachable) is a ``UsageError``."""
    from envfoundry.executor import make_executor

    try:
        executor = make_executor(args.executor, workers=args.workers)
    except EnvfoundryError as exc:
        raise UsageError(first_line(exc)) from None
    try:
        yield executor
    finally:
        executor.close()
