"""Which operating-system isolation confines sandbox workers, and the command that starts one.

The sandbox fails closed: untrusted code runs under bubblewrap or not at all. Two kinds, of which
only the first is ever chosen without being asked for:

``bubblewrap`` (the default)
    Each worker runs under ``bwrap`` in new mount, PID, network, IPC and UTS namespaces: the root
    file system is empty but for read-only binds of /usr and the Python installation, a private
    /tmp (a small tmpfs), /proc of its own PID namespace and a minimal /dev; no network interface
    but a down loopback; an empty environment; no capabilities and no-new-privileges. When the host
    runs as root, each worker also drops to a uid of its own, so per-user limits (processes) apply
    and it cannot signal host processes or other workers. Where bubblewrap is missing or cannot
    start (no user namespaces, say), starting a sandbox raises ``SandboxUnavailable``, whose message
    says how to fix it.
``process`` (only when asked for)
    A separate process with the same rlimits, an empty environment, a private working directory
    and (as root) a uid of its own, but sharing the host's file system view and network: hostile
    code can read host files and write wherever the worker's uid may. It runs only when the caller
    accepts that knowingly, with ``isolation="process"``, ``ENVFOUNDRY_SANDBOX=process`` or
    ``envfoundry --isolation process``, and a ``SandboxWarning`` says so once per process.

An explicit ``isolation`` argument wins over ``ENVFOUNDRY_SANDBOX``; ``"auto"`` (or no argument)
defers to the variable, and without it means bubblewrap. Untrusted code never runs in the host
process unless the caller says so (``sandbox=False``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envfoundry.errors import EnvfoundryError
from envfoundry.sandbox.limits import SandboxLimits

KINDS = ("bubblewrap", "process")
# The variable behind every non-argument setting: the CLI's --isolation sets it too.
ENV_VAR = "ENVFOUNDRY_SANDBOX"
# What to do where bubblewrap cannot run: the end of every SandboxUnavailable message and the doctor.
FIX = (
    "install bubblewrap (e.g. `apt-get install bubblewrap`), or accept weaker isolation knowingly with "
    f'isolation="process", --isolation process or {ENV_VAR}=process'
)
# Mount point of the envfoundry package inside a bubblewrap sandbox.
SANDBOX_ROOT = "/opt/envfoundry"
# Sandbox uids: outside the range of real accounts, one per worker.
_UID_BASE = 200_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()


class SandboxWarning(UserWarning):
    """The sandbox runs with weaker isolation than bubblewrap, because the caller asked for it."""


class SandboxUnavailable(EnvfoundryError, RuntimeError):
    """The sandbox cannot isolate untrusted code on this machine, so it refuses to run it."""


class IsolationSettingError(EnvfoundryError, ValueError):
    """An isolation setting (argument or ``ENVFOUNDRY_SANDBOX``) that is not one of the kinds."""


@dataclass(frozen=True)
class Isolation:
    """How sandbox workers are confined: ``kind`` is ``bubblewrap``, ``process`` (asked for), or
    ``none`` (what ``_detect`` reports where bubblewrap cannot run; no worker ever starts under it)."""

    kind: str
    detail: str
    # Why the isolation is weaker than bubblewrap (None when it is bubblewrap).
    weaker_because: str | None = None

    @property
    def privileged(self) -> bool:
        """The host is root: workers drop to a uid of their own."""
        return os.geteuid() == 0

    def describe(self) -> str:
        text = f"{self.kind} ({self.detail})"
        if self.weaker_because:
            text += f"; weaker than bubblewrap because {self.weaker_because}"
        return text


def _python() -> str:
    return os.path.realpath(sys.executable)


def _package_dir() -> str:
    return str(Path(__file__).resolve().parents[1])  # the envfoundry package


def next_uid() -> int:
    """A uid for a new worker, distinct from every live worker of this process; ``release_uid``
    gives it back when the worker is gone."""
    base = _UID_BASE + (os.getpid() % 5000) * 1000
    with _uid_lock:
        for _ in range(1000):
            uid = base + next(_uid_counter) % 1000
            if uid not in _uids_in_use:
                _uids_in_use.add(uid)
                return uid
    raise SandboxUnavailable(
        "more than 1000 sandbox workers are alive in this process; close the environments no longer in use"
    )


def release_uid(uid: int | None) -> None:
    with _uid_lock:
        _uids_in_use.discard(uid)


def _orjson_dir() -> str | None:
    """The orjson package the workers use for fast JSON, if installed."""
    spec = importlib.util.find_spec("orjson")
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0]).resolve())


def _boot_code(paths: list[str]) -> str:
    return f"import sys; sys.path[:0] = {paths!r}; from envfoundry.sandbox.worker import main; main()"


def bwrap_command(limits: SandboxLimits) -> list[str]:
    """The ``bwrap`` command line that starts one worker."""
    argv = [
        # By absolute path: the worker is started with an empty environment, so no PATH to search.
        shutil.which("bwrap") or "bwrap",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "LANG", "C.UTF-8",
        "--cap-drop", "ALL",
    ]
    if os.geteuid() == 0:
        # Keep only what the worker needs to drop to its own uid before it loads any code.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user"]
    bound: list[str] = []
    made: set[str] = set()

    def covered(path: str) -> bool:
        return any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound)

    def ro_bind(path: str, target: str | None = None) -> None:
        target = target or path
        if covered(target):
            return
        parent = os.path.dirname(target)
        chain = []
        while parent not in ("/", "") and parent not in made and not covered(parent):
            chain.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(chain):
            # Directories bwrap creates are 0700 by default: a dropped uid could not walk them.
            argv.extend(["--perms", "0755", "--dir", directory])
            made.add(directory)
        argv.extend(["--ro-bind", path, target])
        bound.append(target)

    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            argv.extend(["--symlink", os.readlink(top), top])
        elif os.path.isdir(top):
            ro_bind(top)
    python = _python()
    ro_bind(os.path.realpath(sys.base_prefix))
    ro_bind(os.path.dirname(python))
    ro_bind(_package_dir(), f"{SANDBOX_ROOT}/envfoundry")
    orjson_dir = _orjson_dir()
    if orjson_dir is not None:
        ro_bind(orjson_dir, f"{SANDBOX_ROOT}/orjson")
    argv += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
        "--chdir", "/tmp",
        python, "-I", "-S", "-B", "-c", _boot_code([SANDBOX_ROOT]),
    ]  # fmt: skip
    return argv


def process_command() -> list[str]:
    """The command that starts one worker without bubblewrap (``process`` isolation, only when asked for)."""
    paths = [str(Path(_package_dir()).parent)]
    orjson_dir = _orjson_dir()
    if orjson_dir is not None:
        paths.append(str(Path(orjson_dir).parent))
    return [_python(), "-I", "-S", "-B", "-c", _boot_code(paths)]


def _bwrap_version() -> str:
    try:
        argv = [shutil.which("bwrap") or "bwrap", "--version"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "bubblewrap"
    return out.stdout.strip() or "bubblewrap"


def probe_bubblewrap() -> str | None:
    """None if bubblewrap can start Python here the way workers use it, else why not."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    argv = bwrap_command(SandboxLimits())
    # The probe runs the real command line with a trivial program instead of the worker.
    argv[argv.index("-c") + 1] = "print('sandbox-ok')"
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={}, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not be started: {exc}"
    if result.returncode != 0 or "sandbox-ok" not in result.stdout:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return f"bwrap failed to start Python: {lines[-1] if lines else f'exit status {result.returncode}'}"
    return None


@functools.cache
def _detect() -> Isolation:
    """What bubblewrap gives on this machine, probed once per process: an ``Isolation`` of kind
    ``bubblewrap``, or of kind ``none`` (nothing isolates) whose ``weaker_because`` says why."""
    problem = probe_bubblewrap()
    if problem is not None:
        return Isolation("none", "the sandbox refuses to run untrusted code", weaker_because=problem)
    privilege = "a uid of its own per worker" if os.geteuid() == 0 else "an unprivileged user namespace"
    return Isolation(
        "bubblewrap", f"{_bwrap_version()}; mount, PID, network, IPC and UTS namespaces, {privilege}, rlimits"
    )


def _process_detail() -> str:
    uid = "a uid of its own per worker, " if os.geteuid() == 0 else ""
    return f"separate process with {uid}rlimits and an empty environment; shares the host's files and network"


def unavailable_message(problem: str) -> str:
    """The one sentence ``SandboxUnavailable`` says: what is wrong, and the fix."""
    return f"bubblewrap cannot run here ({problem}), so the sandbox refuses to run untrusted code; {FIX}"


def requested(required: str | None = None) -> tuple[str, str]:
    """The isolation kind asked for, and who asked: the argument unless it is ``None`` or
    ``"auto"``, else ``ENVFOUNDRY_SANDBOX``, else the default (bubblewrap)."""
    if required is not None and required != "auto":
        source = f"isolation={required!r}"
    else:
        required = os.environ.get(ENV_VAR, "").strip()
        if required in ("", "auto"):
            return "bubblewrap", "the default"
        source = f"{ENV_VAR}={required}"
    if required not in KINDS:
        raise IsolationSettingError(
            f"sandbox isolation must be 'bubblewrap' or 'process' ('auto' means bubblewrap), got {source}"
        )
    return required, source


_warned = False


def resolve_isolation(required: str | None = None) -> Isolation:
    """The isolation sandbox workers get, or ``SandboxUnavailable`` when that would be none.

    ``required`` is ``"bubblewrap"``, ``"process"``, or ``None`` / ``"auto"`` to let
    ``ENVFOUNDRY_SANDBOX`` decide (bubblewrap when it is unset). Bubblewrap that cannot run is an
    error, never a silent downgrade; ``"process"`` runs without it and warns once per process.
    """
    global _warned
    kind, source = requested(required)
    if kind == "bubblewrap":
        found = _detect()
        if found.kind != "bubblewrap":
            raise SandboxUnavailable(unavailable_message(found.weaker_because or "unknown reason"))
        return found
    found = Isolation("process", _process_detail(), weaker_because=f"{source} asked for it")
    if not _warned:
        _warned = True
        message = (
            f"envfoundry sandbox: untrusted environments run in the weaker 'process' isolation because {source} "
            f"asked for it ({found.detail}); only bubblewrap keeps hostile code from the host's files and network."
        )
        warnings.warn(message, SandboxWarning, stacklevel=3)
    return found


@contextlib.contextmanager
def isolation_setting(kind: str | None) -> Iterator[None]:
    """Set ``ENVFOUNDRY_SANDBOX`` to ``kind`` while the block runs (``None`` leaves it alone): how
    ``envfoundry --isolation`` reaches every sandbox a command starts, including in subprocesses."""
    if kind is None:
        yield
        return
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = kind
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous


def command(kind: str, limits: SandboxLimits) -> list[str]:
    """The command line that starts one worker under ``kind``; any other kind (``none``) is refused."""
    if kind == "bubblewrap":
        return bwrap_command(limits)
    if kind == "process":
        return process_command()
    raise SandboxUnavailable(f"no sandbox worker can start under isolation {kind!r}; {FIX}")
