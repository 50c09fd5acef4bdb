"""The interface every executor meets, and ``make_executor``, the one way to choose one.

An executor maps a picklable function over items and returns the results in the items' order,
showing a progress bar. That is all the callers need (validation of a round's candidates, the
scoring half of calibration, batch scoring, probing programming problems), so an executor knows
nothing about environments: the callers pass module-level functions, bound with
``functools.partial``, that rebuild what they need where they run (a sandboxed environment is
started again on the worker from its source, never shipped as a live object).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import ClassVar, TypeVar

from envfoundry.errors import InvalidInputError

EXECUTORS = ("local", "ray")

Item = TypeVar("Item")
Result = TypeVar("Result")


def check_workers(workers: int | None) -> int | None:
    """``workers`` if it is None or a positive integer; anything else is one clear sentence."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
    return workers


def default_workers() -> int:
    """The local pool's size when none is given: one process per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs ``fn(item)`` for every item somewhere, and hands back the results in order.

    ``map`` raises the first exception an item raised (as ``concurrent.futures`` does) after
    cancelling what has not started; functions that must never raise (validation stages) catch
    their own failures and return them as results. Executors are context managers: ``close``
    releases the pool or the cluster connection this executor started.
    """

    kind: ClassVar[str] = ""

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many items can run at once."""

    @abstractmethod
    def map(self, fn: Callable[[Item], Result], items: Iterable[Item], *, desc: str = "",
            progress: bool = True) -> list[Result]:  # fmt: skip
        """``[fn(item) for item in items]``, run on this executor's workers, with a progress bar
        labelled ``desc`` on stderr (unless ``progress`` is False)."""

    def close(self) -> None:  # noqa: B027 - an executor with nothing to release need not define it
        """Release the workers; the default has nothing to release."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} workers={self.workers}>"


def make_executor(kind: str | Executor | None = "local", *, workers: int | None = None,
                  address: str | None = None) -> Executor:  # fmt: skip
    """The executor ``kind`` names: ``"local"`` (the default; a process pool of ``workers``, one
    per core when None) or ``"ray"`` (the Ray cluster at ``address``, else the one Ray's own
    variables name, ``RAY_ADDRESS``, else a new local one; ``workers`` caps the tasks in flight).
    An ``Executor`` is returned as it is."""
    if isinstance(kind, Executor):
        return kind
    check_workers(workers)
    if kind in (None, "local"):
        if address is not None:
            raise InvalidInputError("an address applies to the ray executor only (--executor ray)")
        from envfoundry.executor.local import LocalExecutor

        return LocalExecutor(workers)
    if kind == "ray":
        from envfoundry.executor.ray_cluster import RayExecutor

        return RayExecutor(address=address, workers=workers)
    raise InvalidInputError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
