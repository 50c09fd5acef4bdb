"""The host side: a pool of persistent sandbox workers that serve batched calls.

A call is a list of items; the pool splits it across its workers and every item comes back as a
result or as a ``SandboxError`` with its reason. A worker that overruns its deadline, floods its
output, sends garbage or dies is killed and replaced; the item it was running gets the error and
the rest of its share goes to the replacement. Workers are also replaced after
``calls_per_worker`` items, after half of their CPU allowance, and after any timeout or memory
error (the interrupted code may have left state half-updated). One worker, seen from the host, is
``host_worker.Worker``.
"""

from __future__ import annotations

import concurrent.futures
import math
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.sandbox.host_worker import SandboxError, SandboxLoadError, Worker, WorkerLost
from envfoundry.sandbox.isolation import Isolation, resolve_isolation
from envfoundry.sandbox.limits import SandboxLimits

# A share smaller than this is not worth a second worker's round trip.
MIN_SHARE = 16


class _Slot:
    """A place for one worker; at most one call uses a slot at a time."""

    def __init__(self) -> None:
        self.worker: Worker | None = None


class SandboxPool:
    """Persistent sandbox workers for one environment.

    ``load`` says what the workers load: ``{"source": text, "filename": name}`` or
    ``{"module": "envfoundry.envs.sudoku"}``. ``isolation`` is a resolved ``Isolation`` or a
    setting for ``resolve_isolation`` (``"bubblewrap"``, ``"process"``, ``None`` for the default),
    so a pool fails closed as ``SandboxedEnvironment`` does. Construction starts every worker and
    waits until each has loaded the environment, so a file that fails to load fails here, with its
    reason.
    """

    def __init__(
        self, load: dict[str, Any], isolation: Isolation | str | None, limits: SandboxLimits, workers: int
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
        self.load = load
        self.isolation = isolation if isinstance(isolation, Isolation) else resolve_isolation(isolation)
        self.limits = limits
        self.restarts = 0
        self._lock = threading.Lock()
        self._closed = False
        self._slots = [_Slot() for _ in range(workers)]
        self._free: queue.Queue[_Slot] = queue.Queue()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="envfoundry-sandbox")
        self._finalizer = weakref.finalize(self, _shutdown, self._slots, self._executor)
        started = time.perf_counter()
        # Wait for every start before judging: closing while a start is in flight would race it.
        futures = [self._executor.submit(self._start, slot) for slot in self._slots]
        concurrent.futures.wait(futures)
        failures = [future.exception() for future in futures if future.exception() is not None]
        if failures:
            self.close()
            # A load error says what is wrong with the file; prefer it to a worker that just died.
            raise next((exc for exc in failures if isinstance(exc, SandboxLoadError)), failures[0])
        self.cold_start_s = time.perf_counter() - started
        self.description = futures[0].result()
        for slot in self._slots:
            self._free.put(slot)

    @property
    def workers(self) -> int:
        return len(self._slots)

    def _start(self, slot: _Slot) -> dict[str, Any]:
        if slot.worker is None:
            slot.worker = Worker(self.isolation, self.limits, self.load)
        return slot.worker.ready()

    def _retire(self, slot: _Slot) -> None:
        """Kill the slot's worker and start its replacement at once, so its start-up overlaps."""
        if slot.worker is not None:
            slot.worker.kill()
        with self._lock:
            self.restarts += 1
        slot.worker = None
        if not self._closed:
            try:
                slot.worker = Worker(self.isolation, self.limits, self.load)
            except SandboxError:
                pass  # the next use tries again, and reports the failure to the items waiting

    def _usable(self, slot: _Slot) -> Worker:
        if self._closed:
            raise SandboxError("the sandbox pool was closed during the call", "closed")
        worker = slot.worker
        if worker is not None and (
            not worker.alive()
            or worker.calls >= self.limits.calls_per_worker
            or worker.cpu >= self.limits.cpu_seconds / 2
        ):
            self._retire(slot)
        if slot.worker is None:
            slot.worker = Worker(self.isolation, self.limits, self.load)
        slot.worker.ready()
        return slot.worker

    def _run_share(self, op: str, items: Sequence[Any], indices: list[int], results: list[Any]) -> None:
        slot = self._free.get()
        try:
            pending = indices
            while pending:
                try:
                    worker = self._usable(slot)
                except SandboxError as exc:
                    for index in pending:
                        results[index] = exc
                    slot.worker = None
                    return
                # A worker serves at most calls_per_worker items, so a long batch spans several.
                batch = pending[: max(1, self.limits.calls_per_worker - worker.calls)]
                done = 0
                try:
                    for result in worker.run(op, [items[i] for i in batch]):
                        results[batch[done]] = result
                        done += 1
                    pending = pending[done:]
                except (WorkerLost, SandboxError, OSError) as exc:
                    kind = getattr(exc, "kind", "crash")
                    if kind != "recycle" and done < len(batch):
                        # The worker failed while running this item: it gets the reason.
                        results[batch[done]] = SandboxError(str(exc), kind)
                        done += 1
                    pending = pending[done:]
                    self._retire(slot)
        finally:
            self._free.put(slot)

    def call(self, op: str, items: Sequence[Any]) -> list[Any]:
        """Run ``op`` on every item; each result is the value or a ``SandboxError``."""
        if self._closed:
            raise SandboxError("this sandbox pool is closed", "closed")
        items = list(items)
        results: list[Any] = [None] * len(items)
        if not items:
            return results
        shares = max(1, min(len(self._slots), math.ceil(len(items) / MIN_SHARE)))
        size = math.ceil(len(items) / shares)
        chunks = [list(range(start, min(start + size, len(items)))) for start in range(0, len(items), size)]
        futures = [self._executor.submit(self._run_share, op, items, chunk, results) for chunk in chunks]
        for future in futures:
            future.result()
        return results

    def restart(self) -> None:
        """Replace every worker with a fresh process (e.g. to compare instances across processes)."""
        slots = [self._free.get() for _ in self._slots]
        try:
            for slot in slots:
                self._retire(slot)
                self._usable(slot)
        finally:
            for slot in slots:
                self._free.put(slot)

    def worker_pids(self) -> list[int]:
        return [slot.worker.pid for slot in self._slots if slot.worker is not None and slot.worker.alive()]

    def close(self) -> None:
        """Kill every worker; the pool cannot be used afterwards."""
        self._closed = True
        self._finalizer()


def _shutdown(slots: list[_Slot], executor: ThreadPoolExecutor) -> None:
    for slot in slots:
        if slot.worker is not None:
            slot.worker.kill()
            slot.worker = None
    executor.shutdown(wait=False, cancel_futures=True)
