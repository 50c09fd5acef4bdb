"""The host's end of one sandbox worker: start it under the isolation, speak the protocol with it.

``Worker`` starts the process (``isolation.command``) with an empty environment, sends it the
configuration, and then exchanges newline-delimited JSON (``codec.py``, ``worker.py`` for the other
end) under a deadline per item and a size limit per line. Whatever goes wrong on the sandbox side
-- a deadline overrun, a flood of output, a forged or garbled reply, a death -- ends as
``WorkerLost``, and the pool (``pool.py``) kills the worker and blames the item it was running.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from envfoundry.errors import EnvfoundryError
from envfoundry.sandbox import codec
from envfoundry.sandbox.isolation import Isolation, command, next_uid, release_uid
from envfoundry.sandbox.limits import SandboxLimits


class SandboxError(EnvfoundryError, RuntimeError):
    """A sandboxed call failed; ``kind`` says how (``timeout``, ``memory``, ``crash``, ``too_large``,
    ``not_json``, ``protocol``, ``load``, ``closed``, ``error``)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


class SandboxLoadError(SandboxError, ValueError):
    """The environment could not be loaded in a worker (a bad file, not a sandbox failure)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "load")


class WorkerLost(Exception):
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
        argv = command(isolation.kind, limits)  # first: an isolation that cannot run takes nothing
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
                argv,
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
                raise WorkerLost("the sandbox worker stopped reading its input", "timeout")
            _, writable, _ = select.select([], [self._in], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(self._in, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise WorkerLost(self._death("before reading its input"), "crash") from None
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
                raise WorkerLost(
                    f"the sandbox worker sent more than {self.limits.max_result_bytes / 1024 / 1024:.1f} MiB "
                    "for one result",
                    "too_large",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerLost(
                    f"the call took longer than {self.limits.call_timeout_s:g} s and the worker was killed", "timeout"
                )
            readable, _, _ = select.select([self._out], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise WorkerLost(self._death("during the call"), "crash")
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
        except WorkerLost as lost:
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
        """Yield each item's result (or ``SandboxError``) in order; raise ``WorkerLost`` if the
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
                raise WorkerLost("the sandbox worker sent a reply out of turn", "protocol")
            if "ok" in message:
                yield message["ok"]
                continue
            if not isinstance(message.get("error"), str):
                raise WorkerLost("the sandbox worker sent a malformed reply", "protocol")
            yield SandboxError(message["error"], str(message.get("kind", "error")))
            if message.get("fatal"):
                raise WorkerLost("", "recycle")
        done = self._message(time.monotonic() + deadline_s)
        if done.get("r") != rid or done.get("done") != len(items) or not isinstance(done.get("cpu"), (int, float)):
            raise WorkerLost("the sandbox worker sent a malformed reply", "protocol")
        self.cpu = float(done["cpu"])
        if self._start < len(self._buffer) or select.select([self._out], [], [], 0)[0]:
            raise WorkerLost("the sandbox worker sent more replies than it was asked for", "protocol")

    def _message(self, deadline: float) -> dict[str, Any]:
        line = self._read_line(deadline)
        try:
            message = codec.decode(line)
        except ValueError as exc:
            raise WorkerLost(f"the sandbox worker sent a reply that cannot be decoded ({exc})", "protocol") from None
        if not isinstance(message, dict):
            raise WorkerLost("the sandbox worker sent a malformed reply", "protocol")
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
                try:  # process isolation has no PID namespace: end the whole session
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
