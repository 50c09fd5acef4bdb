"""Resource limits of a sandbox worker, with defaults that suit a training loop."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from envfoundry.errors import InvalidInputError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandbox worker may use. Every limit is enforced by the operating system or by
    the host, never by the sandboxed code's cooperation.

    call_timeout_s: wall-clock seconds per sample or score call (the host kills a worker that
        overruns by more than ``grace_s``).
    memory_bytes: address space of a worker (RLIMIT_AS).
    cpu_seconds: CPU time of a worker over its life (RLIMIT_CPU); the host recycles a worker
        that has used half of it, so the limit only ever stops runaway code.
    max_processes: processes and threads a worker may create (RLIMIT_NPROC, per worker uid).
    file_size_bytes: largest file a worker may write, in its private /tmp (RLIMIT_FSIZE).
    open_files: file descriptors per worker (RLIMIT_NOFILE).
    tmp_bytes: size of the private /tmp (a tmpfs under bubblewrap).
    max_result_bytes: largest single result (one instance or verdict as JSON) a worker may return.
    calls_per_worker: items a worker serves before it is replaced by a fresh one.
    start_timeout_s: seconds a new worker has to load its environment.
    grace_s: extra seconds the host waits past ``call_timeout_s`` before killing a worker.
    """

    call_timeout_s: float = 2.0
    memory_bytes: int = 1 * GIB
    cpu_seconds: int = 600
    max_processes: int = 8
    file_size_bytes: int = 16 * MIB
    open_files: int = 64
    tmp_bytes: int = 64 * MIB
    max_result_bytes: int = 16 * MIB
    calls_per_worker: int = 10_000
    start_timeout_s: float = 20.0
    grace_s: float = 0.5

    def __post_init__(self) -> None:
        minimums = {
            "call_timeout_s": 0.01,
            "memory_bytes": 64 * MIB,
            "cpu_seconds": 1,
            "max_processes": 1,
            "file_size_bytes": 0,
            "open_files": 16,
            "tmp_bytes": 1 * MIB,
            "max_result_bytes": 1 * KIB,
            "calls_per_worker": 1,
            "start_timeout_s": 0.1,
            "grace_s": 0.0,
        }
        for f in fields(self):
            value = getattr(self, f.name)
            integral = f.type == "int"
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidInputError(f"sandbox limit '{f.name}' must be a finite number, got {value!r}")
            if integral and not float(value).is_integer():
                raise InvalidInputError(f"sandbox limit '{f.name}' must be a whole number, got {value!r}")
            if value < minimums[f.name]:
                raise InvalidInputError(f"sandbox limit '{f.name}' must be at least {minimums[f.name]}, got {value!r}")

    @property
    def deadline_s(self) -> float:
        """How long the host waits for one item before it kills the worker."""
        return self.call_timeout_s + self.grace_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxLimits:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"unknown sandbox limit(s) {unknown}; known: {sorted(known)}")
        return cls(**data)
