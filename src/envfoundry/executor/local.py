"""``LocalExecutor``: a pool of processes on this machine, the default executor.

The pool is ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method: a forked
child would inherit the host's threads (the sandbox pools' reader threads, tqdm's monitor) in
whatever state they were, and a fork of a process that holds locks can deadlock. Spawned children
import what the function needs afresh, so the function and its items must be picklable: module-level
functions, ``functools.partial`` of them, dataclasses. Environment variables (``ENVFOUNDRY_SANDBOX``
among them) are inherited when the pool starts, on the first ``map`` that needs it.

One worker, or one item, runs here, in this process, in order: no pool to start, and what a
caller gets is exactly what the pool would give.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait

from tqdm import tqdm

from envfoundry.executor.base import Executor, Item, Result, check_workers, default_workers


class LocalExecutor(Executor):
    """``workers`` processes on this machine (default: one per core); one runs items in this process."""

    kind = "local"

    def __init__(self, workers: int | None = None) -> None:
        self._workers = check_workers(workers) or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, fn: Callable[[Item], Result], items: Iterable[Item], *, desc: str = "",
            progress: bool = True) -> list[Result]:  # fmt: skip
        items = list(items)
        with tqdm(total=len(items), desc=desc or "items", unit="item", leave=False, disable=not progress) as bar:
            if self._workers == 1 or len(items) <= 1:
                results = []
                for item in items:
                    results.append(fn(item))
                    bar.update()
                return results
            return self._in_pool(fn, items, bar)

    def _in_pool(self, fn: Callable[[Item], Result], items: list[Item], bar: tqdm) -> list[Result]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
        futures: list[Future] = [self._pool.submit(fn, item) for item in items]
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                bar.update(len(done))
                for future in done:
                    if future.exception() is not None:
                        raise future.exception()
        finally:
            for future in pending:  # an item failed, or the caller was interrupted: start nothing more
                future.cancel()
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the pool's processes (a later ``map`` starts a new pool)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
