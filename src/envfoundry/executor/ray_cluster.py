"""``RayExecutor``: the items run as Ray tasks on a cluster (``--executor ray``).

Which cluster is Ray's usual choice: an ``address`` given here, else ``RAY_ADDRESS``, else a
cluster started with ``ray start`` on this machine, else a new local one (``ray.init()``'s own
rules). Where Ray is already initialised in this process (a notebook, a test), that connection is
used and left open; a connection this executor opened is closed by ``close``.

Each item is one task running the function on a worker: a function that starts a sandboxed
environment starts it there, under that node's bubblewrap, so untrusted code never runs in a Ray
worker's own process. This process's ``ENVFOUNDRY_SANDBOX`` (the ``--isolation`` choice),
``ENVFOUNDRY_ARCHIVE`` and ``ENVFOUNDRY_CACHE`` travel with the tasks, as variables of their runtime
environment. Ray is imported only here: importing ``envfoundry.executor`` does not import it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from tqdm import tqdm

from envfoundry.errors import EnvfoundryError
from envfoundry.executor.base import Executor, Item, Result, check_workers

# Variables that change how envfoundry behaves on a worker: the sandbox's isolation, the archive,
# the model cache. Only these travel (never a token another variable may hold).
FORWARDED = ("ENVFOUNDRY_SANDBOX", "ENVFOUNDRY_ARCHIVE", "ENVFOUNDRY_CACHE")
_WAIT_S = 0.5  # how often the progress bar is refreshed while no task finishes


class RayUnavailable(EnvfoundryError, RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("the ray executor needs Ray: pip install 'envfoundry[ray]' (or pip install ray)") from None
    return ray


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """What every task runs (``fn`` travels once per ``map``, as an object in Ray's store)."""
    return fn(item)


class RayExecutor(Executor):
    """Tasks on a Ray cluster. ``workers`` caps the tasks in flight (default: Ray schedules every
    item at once, one CPU each)."""

    kind = "ray"

    def __init__(self, *, address: str | None = None, workers: int | None = None) -> None:
        self._ray = ray = _import_ray()
        self._cap = check_workers(workers)
        self._started = not ray.is_initialized()
        if self._started:
            try:
                ray.init(address=address, ignore_reinit_error=True)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or os.environ.get("RAY_ADDRESS") or "a new local cluster"
                raise RayUnavailable(f"cannot start or reach the Ray cluster ({where}): "
                                     f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None  # fmt: skip
        self._remote = ray.remote(_call)
        variables = {key: os.environ[key] for key in FORWARDED if key in os.environ}
        self._options: dict[str, Any] = {"runtime_env": {"env_vars": variables}} if variables else {}

    @property
    def workers(self) -> int:
        cpus = int(self._ray.cluster_resources().get("CPU", 1)) or 1
        return min(cpus, self._cap) if self._cap else cpus

    def map(self, fn: Callable[[Item], Result], items: Iterable[Item], *, desc: str = "",
            progress: bool = True) -> list[Result]:  # fmt: skip
        ray = self._ray
        items = list(items)
        if not items:
            return []
        remote = self._remote.options(**self._options) if self._options else self._remote
        shared = ray.put(fn)
        cap = self._cap or len(items)
        refs: list[Any] = []
        index_of: dict[Any, int] = {}
        results: list[Any] = [None] * len(items)
        in_flight: list[Any] = []
        with tqdm(total=len(items), desc=desc or "items", unit="item", leave=False, disable=not progress) as bar:
            try:
                while len(refs) < len(items) or in_flight:
                    while len(refs) < len(items) and len(in_flight) < cap:
                        ref = remote.remote(shared, items[len(refs)])
                        index_of[ref] = len(refs)
                        refs.append(ref)
                        in_flight.append(ref)
                    done, in_flight = ray.wait(in_flight, num_returns=1, timeout=_WAIT_S)
                    for ref in done:
                        results[index_of[ref]] = self._get(ref)
                        bar.update()
            finally:
                for ref in in_flight:  # an item failed, or the caller was interrupted: stop the rest
                    ray.cancel(ref)
        return results

    def _get(self, ref: Any) -> Any:
        """A task's result; a task that raised raises its own exception here (not Ray's wrapper,
        whose message starts with the task's traceback)."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise

    def close(self) -> None:
        """Disconnect from the cluster if this executor connected (a local cluster it started stops)."""
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False
