"""The host side: a pool of persistent sandbox workers that serve batched calls.

A call is a list of items; the pool splits it across its workers and every item comes back as a
result or as a ``SandboxError`` with its reason. A worker that overruns its deadline, floods its
output, sends garbage or dies is killed and replaced; the item it was running gets the error and
the rest of its share goes to the replacement. Workers are also replaced after
``calls_per_worker`` items, after half of their CPU allowance, and after any timeout or memory
error (the interrupted code may have left state half-updated).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import queue
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from envfoundry.sandbox import codec
from envfoundry.sandbox.isolation import Isolation, command, next_uid, release_uid
from envfoundry.sandbox.limits import SandboxLimits

# A share smaller than this is not worth a second worker's round trip.
MIN_SHARE = 16


class SandboxError(RuntimeError):
    """A sandboxed call failed; ``kind`` says how (``timeout``, ``memory``, ``crash``, ``too_large``,
    ``not_json``, ``protocol``, ``load``, ``error``)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class SandboxLoadError(SandboxError, ValueError):
    """The environment could not be loaded in a worker (a bad file, not a sandbox failure)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "load")


class _WorkerLost(Exception):
    """The worker can no longer be trusted to answer: the current item gets this reason."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _user_process_count() -> int:
    """Processes of this uid on the machine (RLIMIT_NPROC counts them all for a non-root user)."""
    uid, count = str(os.getuid()), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    for line in handle:
                        if line.startswith("Uid:"):
                            count += line.split()[1] == uid
                            break
            except OSError:
                continue
    return count


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Worker:
    """One sandboxed worker process, seen from the host."""

    def __init__(self, isolation: Isolation, limits: SandboxLimits, load: dict[str, Any]) -> None:
        self.limits = limits
        self.calls = 0
        self.cpu = 0.0
        self._buffer = bytearray()
        self._start = 0  # where the unread part of the buffer begins
        self._scanned = 0  # how far the buffer has been searched for a newline
        self._tmpdir: str | None = None
        privileged = isolation.privileged
        uid = self.uid = next_uid() if privileged else None
        nproc = limits.max_processes if privileged else _user_process_count() + limits.max_processes + 8
        env: dict[str, str] = {}
        cwd = "/"
        if isolation.kind == "process":
            self._tmpdir = tempfile.mkdtemp(prefix="envfoundry-worker-")
            if uid is not None:
                os.chown(self._tmpdir, uid, uid)
            env = {"PATH": "/usr/bin:/bin", "HOME": self._tmpdir, "TMPDIR": self._tmpdir, "LANG": "C.UTF-8"}
            cwd = self._tmpdir
        try:
            self.proc = subprocess.Popen(
                command(isolation.kind, limits),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            release_uid(uid)
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
            raise SandboxError(f"a sandbox worker could not be started: {exc}", "load") from None
        self.pid = self.proc.pid
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self._config = codec.encode({"uid": uid, "nproc": nproc, "limits": limits.to_dict(), **load})
        self._description: dict[str, Any] | None = None
        self._request_id = 0

    # ----- plumbing ---------------------------------------------------------------------------
    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerLost("the sandbox worker stopped reading its input", "timeout")
            _, writable, _ = select.select([], [self._in], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(self._in, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise _WorkerLost(self._death("before reading its input"), "crash") from None
            view = view[written:]

    def _read_line(self, deadline: float) -> bytes:
        limit = self.limits.max_result_bytes + 1024
        buffer = self._buffer
        while True:
            newline = buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(buffer[self._start : newline])
                self._start = self._scanned = newline + 1
                return line
            self._scanned = len(buffer)
            if len(buffer) - self._start > limit:
                raise _WorkerLost(
                    f"the sandbox worker sent more than {self.limits.max_result_bytes / 1024 / 1024:.1f} MiB "
                    "for one result",
                    "too_large",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _WorkerLost(
                    f"the call took longer than {self.limits.call_timeout_s:g} s and the worker was killed", "timeout"
                )
            readable, _, _ = select.select([self._out], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise _WorkerLost(self._death("during the call"), "crash")
            if self._start:
                # Drop consumed lines only when reading more: one move per read, not one per line.
                del buffer[: self._start]
                self._scanned -= self._start
                self._start = 0
            buffer += chunk

    def _death(self, when: str) -> str:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return f"the sandbox worker closed its output {when}"
        # bubblewrap reports a signal that killed its child as 128 + the signal number.
        number = -code if code < 0 else code - 128 if code > 128 else 0
        if number == signal.SIGXCPU:
            return f"the sandbox worker used up its CPU time {when}"
        if number:
            return f"the sandbox worker was killed by {_signal_name(number)} {when}"
        return f"the sandbox worker exited (status {code}) {when}"

    def _stderr_tail(self) -> str:
        try:
            os.set_blocking(self.proc.stderr.fileno(), False)
            data = self.proc.stderr.read(65536) or b""
        except (OSError, ValueError):
            data = b""
        lines = data.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    # ----- protocol ---------------------------------------------------------------------------
    def ready(self) -> dict[str, Any]:
        """Send the configuration and wait for the environment's description."""
        if self._description is not None:
            return self._description
        deadline = time.monotonic() + self.limits.start_timeout_s
        try:
            self._write(self._config, deadline)
            line = self._read_line(deadline)
        except _WorkerLost as lost:
            self.kill()
            tail = self._stderr_tail()
            reason = str(lost) if lost.kind != "timeout" else (
                f"the sandbox worker did not start within {self.limits.start_timeout_s:g} s")  # fmt: skip
            raise SandboxError(f"{reason}{': ' + tail if tail else ''}", "load") from None
        try:
            message = codec.decode(line)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not ("ready" in message or "fatal" in message):
            self.kill()
            raise SandboxError("the sandbox worker sent a malformed greeting", "protocol")
        if "fatal" in message:
            self.kill()
            raise SandboxLoadError(str(message["fatal"]))
        if not isinstance(message["ready"], dict):
            self.kill()
            raise SandboxError("the sandbox worker sent a malformed description", "protocol")
        self._description = message["ready"]
        return self._description

    def run(self, op: str, items: Sequence[Any]) -> Iterator[Any]:
        """Yield each item's result (or ``SandboxError``) in order; raise ``_WorkerLost`` if the
        worker fails mid-way (the caller blames the item after the last one yielded).

        Every reply must carry this request's id and the item's index, and nothing may follow the
        closing line: a worker whose environment forges or leaves extra lines is not trusted again.
        """
        deadline_s = self.limits.deadline_s
        self._request_id += 1
        rid = self._request_id
        try:
            request = codec.encode({"op": op, "id": rid, "items": items})
        except (TypeError, ValueError) as exc:
            raise SandboxError(f"the request is not plain JSON: {exc}", "not_json") from None
        self._write(request, time.monotonic() + deadline_s)
        for index in range(len(items)):
            message = self._message(time.monotonic() + deadline_s)
            self.calls += 1
            if message.get("r") != rid or message.get("i") != index:
                raise _WorkerLost("the sandbox worker sent a reply out of turn", "protocol")
            if "ok" in message:
                yield message["ok"]
                continue
            if not isinstance(message.get("error"), str):
                raise _WorkerLost("the sandbox worker sent a malformed reply", "protocol")
            yield SandboxError(message["error"], str(message.get("kind", "error")))
            if message.get("fatal"):
                raise _WorkerLost("", "recycle")
        done = self._message(time.monotonic() + deadline_s)
        if done.get("r") != rid or done.get("done") != len(items) or not isinstance(done.get("cpu"), (int, float)):
            raise _WorkerLost("the sandbox worker sent a malformed reply", "protocol")
        self.cpu = float(done["cpu"])
        if self._start < len(self._buffer) or select.select([self._out], [], [], 0)[0]:
            raise _WorkerLost("the sandbox worker sent more replies than it was asked for", "protocol")

    def _message(self, deadline: float) -> dict[str, Any]:
        line = self._read_line(deadline)
        try:
            message = codec.decode(line)
        except ValueError as exc:
            raise _WorkerLost(f"the sandbox worker sent a reply that cannot be decoded ({exc})", "protocol") from None
        if not isinstance(message, dict):
            raise _WorkerLost("the sandbox worker sent a malformed reply", "protocol")
        return message

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()  # bubblewrap's --die-with-parent takes the sandbox down with it
            except ProcessLookupError:
                pass
            if self._tmpdir is not None:
                try:  # the process fallback has no PID namespace: end the whole session
                    os.killpg(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        release_uid(self.uid)
        self.uid = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class _Slot:
    """A place for one worker; at most one call uses a slot at a time."""

    def __init__(self) -> None:
        self.worker: Worker | None = None


class SandboxPool:
    """Persistent sandbox workers for one environment.

    ``load`` says what the workers load: ``{"source": text, "filename": name}`` or
    ``{"module": "envfoundry.envs.sudoku"}``. Construction starts every worker and waits until
    each has loaded the environment, so a file that fails to load fails here, with its reason.
    """

    def __init__(self, load: dict[str, Any], isolation: Isolation, limits: SandboxLimits, workers: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self.load = load
        self.isolation = isolation
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
                except (_WorkerLost, SandboxError, OSError) as exc:
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
            raise RuntimeError("this sandbox pool is closed")
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
