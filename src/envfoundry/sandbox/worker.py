"""The sandbox side: a worker process that loads one environment and serves batched calls.

It is started by ``pool.Worker`` inside the isolation (see ``isolation.py``) and speaks
newline-delimited JSON (``codec.py``): the host writes a config line, then requests
``{"op", "id", "items"}``; the worker answers ``{"ready": description}`` (or ``{"fatal": reason}``),
then one line per item, tagged with the request id and item index, and a closing
``{"done": n, "cpu": seconds}``. Results stream item by item, so the host knows which item
was running if the worker dies, and keeps every result that came before it.

Before any environment code runs the worker drops to its own uid (when started as root), sets its
rlimits, and points file descriptors 1 and 2 at /dev/null: the protocol uses a private copy of
stdout, so whatever the environment prints cannot corrupt it. Nothing here is a security boundary
on its own: the host enforces deadlines and sizes, the operating system everything else.
"""

from __future__ import annotations

import importlib
import os
import resource
import signal
import sys
import time
import types
from typing import Any

from envfoundry.sandbox import codec

# Standard modules environments commonly use, imported before the worker drops privileges (under
# process isolation a dropped uid may not be able to read the Python installation).
PRELOAD = (
    "bisect collections dataclasses enum fractions functools heapq itertools math operator random re "
    "statistics string textwrap typing decimal copy json hashlib numbers abc"
).split()


class _CallTimeout(BaseException):
    """Raised by the interval timer inside a call that overran its time limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _CallTimeout


class _Channel:
    """Write whole lines to the host on a private descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def send_json(self, obj: Any) -> None:
        self.send(codec.encode(obj, fast=False))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != uid:
        raise RuntimeError("could not drop to the sandbox uid")


def _set_limits(limits: dict[str, Any], nproc: int) -> None:
    def cap(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        value = int(value) if hard == resource.RLIM_INFINITY else min(int(value), hard)
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, limits["memory_bytes"])
    cap(resource.RLIMIT_CPU, limits["cpu_seconds"])
    cap(resource.RLIMIT_FSIZE, limits["file_size_bytes"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_NPROC, nproc)
    cap(resource.RLIMIT_CORE, 0)


def _load(config: dict[str, Any]) -> Any:
    from envfoundry.core import registry

    if config.get("module"):
        module = importlib.import_module(config["module"])
        return registry.environment_class_in(module, config["module"])()
    return registry.load_class_from_source(config["source"], config["filename"])()


def _describe(env: Any) -> dict[str, Any]:
    return {
        "name": env.name,
        "version": env.version,
        "asymmetry": env.asymmetry,
        "answers": getattr(env, "answers", ""),
        "family": env.family,
        "description": env.description,
        "space": env.parameter_space.to_spec(),
    }


def _sample(env: Any, item: list[Any]) -> dict[str, Any]:
    # The host knows the seed, level and parameters it asked for: only the rest travels back.
    seed, level, params = item
    started = time.perf_counter()
    inst = env.sample(seed, level=level, params=params)
    return {
        "seconds": time.perf_counter() - started,
        "env": inst.env,
        "version": inst.version,
        "prompt": inst.prompt,
        "reference": inst.reference,
        "state": inst.state,
        "metadata": inst.metadata,
    }


def _verify(env: Any, item: list[Any]) -> dict[str, Any]:
    state, answer = item
    verdict = env._verify(types.SimpleNamespace(state=state), answer)
    return {"reward": verdict.reward, "correct": verdict.correct, "reason": verdict.reason,
            "metadata": verdict.metadata}  # fmt: skip


OPS = {"sample": _sample, "verify": _verify}


def _error(request_id: int, index: int, kind: str, message: str, fatal: bool = False) -> bytes:
    out: dict[str, Any] = {"r": request_id, "i": index, "error": message[:2000], "kind": kind}
    if fatal:
        out["fatal"] = True
    return codec.encode(out, fast=False)


def _serve(env: Any, channel: _Channel, limits: dict[str, Any]) -> None:
    timeout = float(limits["call_timeout_s"])
    max_bytes = int(limits["max_result_bytes"])
    memory_mib = int(limits["memory_bytes"]) // (1024 * 1024)
    pid = os.getpid()
    signal.signal(signal.SIGALRM, _on_alarm)
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return
        request = codec.decode(line.rstrip(b"\n"))
        handler, rid = OPS[request["op"]], request["id"]
        for index, item in enumerate(request["items"]):
            fatal = False
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                value = handler(env, item)
                signal.setitimer(signal.ITIMER_REAL, 0)
                try:
                    out = codec.encode({"r": rid, "i": index, "ok": value}, fast=False)
                except (TypeError, ValueError, RecursionError) as exc:
                    out = _error(rid, index, "not_json",
                                 f"the environment returned something that is not plain JSON: {exc}")  # fmt: skip
                else:
                    if len(out) > max_bytes:
                        out = _error(rid, index, "too_large", f"the result is {len(out) / 2**20:.1f} MiB, over the "
                                     f"limit of {max_bytes / 2**20:.1f} MiB")  # fmt: skip
            except _CallTimeout:
                out, fatal = _error(rid, index, "timeout", f"the call took longer than {timeout:g} s", True), True
            except MemoryError:
                out = _error(rid, index, "memory", f"the call ran out of memory (limit {memory_mib} MiB)", True)
                fatal = True
            except RecursionError:
                out = _error(rid, index, "error", "the call exceeded the maximum recursion depth")
            except Exception as exc:  # noqa: BLE001 - every failure becomes this item's error
                out = _error(rid, index, "error", f"{type(exc).__name__}: {exc}")
            except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, ...
                out = _error(rid, index, "error", f"the environment raised {type(exc).__name__}", True)
                fatal = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if os.getpid() != pid:
                os._exit(0)  # a process the environment forked never speaks for the worker
            channel.send(out)
            if fatal:
                # Interrupted code may have left the environment half-updated: start afresh.
                os._exit(0)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        channel.send_json({"r": rid, "done": len(request["items"]), "cpu": usage.ru_utime + usage.ru_stime})


def main() -> None:
    channel = _Channel(os.dup(1))
    # A child the environment forks must not read requests or write replies meant for the worker.
    os.register_at_fork(after_in_child=lambda: (os.close(channel.fd), os.close(0)))
    stdin = sys.stdin.buffer
    config = codec.decode(stdin.readline().rstrip(b"\n"))
    try:
        for name in PRELOAD:
            importlib.import_module(name)
        from envfoundry.core import registry  # loaded while the package is surely readable

        registry.use_seed_library(False)  # this worker runs one environment: no seed may collide with it
        if config.get("module"):  # a module of this package: trusted, imported with the rest
            importlib.import_module(config["module"])

        if config.get("uid") is not None:
            _drop_privileges(int(config["uid"]))
        _set_limits(config["limits"], int(config["nproc"]))
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        env = _load(config)
        description = _describe(env)
    except BaseException as exc:  # noqa: BLE001 - report any start-up failure in one line
        message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        channel.send_json({"fatal": f"the environment failed to load: {message}"[:4000]})
        return
    channel.send_json({"ready": description})
    _serve(env, channel, config["limits"])
