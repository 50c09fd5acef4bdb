"""Which operating-system isolation confines sandbox workers, and the command that starts one.

Two levels, strongest first:

``bubblewrap``
    Each worker runs under ``bwrap`` in new mount, PID, network, IPC and UTS namespaces: the root
    file system is empty but for read-only binds of /usr and the Python installation, a private
    /tmp (a small tmpfs), /proc of its own PID namespace and a minimal /dev; no network interface
    but a down loopback; an empty environment; no capabilities and no-new-privileges. When the host
    runs as root, each worker also drops to a uid of its own, so per-user limits (processes) apply
    and it cannot signal host processes or other workers.
``process``
    Where bubblewrap cannot run: a separate process with the same rlimits, an empty environment,
    a private working directory and (as root) a uid of its own, but sharing the host's file
    system view and network. It is announced with a ``SandboxWarning`` once per process and by
    ``envfoundry doctor``.

Untrusted code never runs in the host process unless the caller says so (``sandbox=False``).
``ENVFOUNDRY_SANDBOX=bubblewrap`` makes the weaker fallback an error instead of a warning.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
import shutil
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import envfoundry
from envfoundry.sandbox.limits import SandboxLimits

KINDS = ("bubblewrap", "process")
ENV_VAR = "ENVFOUNDRY_SANDBOX"
# Mount point of the envfoundry package inside a bubblewrap sandbox.
SANDBOX_ROOT = "/opt/envfoundry"
# Sandbox uids: outside the range of real accounts, one per worker.
_UID_BASE = 200_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()
_uids_in_use: set[int] = set()


class SandboxWarning(UserWarning):
    """The sandbox runs with weaker isolation than bubblewrap."""


class SandboxUnavailable(RuntimeError):
    """The isolation that was required cannot run on this machine."""


@dataclass(frozen=True)
class Isolation:
    kind: str
    detail: str
    # Why the strongest isolation is not in use (None when it is).
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
    return str(Path(envfoundry.__file__).resolve().parent)


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
    raise RuntimeError("more than 1000 sandbox workers alive in one process")


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
        "bwrap",
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
    """The command that starts one worker without bubblewrap (the ``process`` fallback)."""
    paths = [str(Path(_package_dir()).parent)]
    orjson_dir = _orjson_dir()
    if orjson_dir is not None:
        paths.append(str(Path(orjson_dir).parent))
    return [_python(), "-I", "-S", "-B", "-c", _boot_code(paths)]


def _bwrap_version() -> str:
    try:
        out = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "bubblewrap"
    return out.stdout.strip() or "bubblewrap"


def probe_bubblewrap() -> str | None:
    """None if bubblewrap can start Python here the way workers use it, else why not."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
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
    problem = probe_bubblewrap()
    if problem is None:
        privilege = "a uid of its own per worker" if os.geteuid() == 0 else "an unprivileged user namespace"
        return Isolation(
            "bubblewrap",
            f"{_bwrap_version()}; mount, PID, network, IPC and UTS namespaces, {privilege}, rlimits",
        )
    return Isolation("process", _process_detail(), weaker_because=problem)


def _process_detail() -> str:
    uid = "a uid of its own per worker, " if os.geteuid() == 0 else ""
    return f"separate process with {uid}rlimits and an empty environment; shares the host's files and network"


_warned = False


def resolve_isolation(required: str = "auto") -> Isolation:
    """The isolation sandbox workers get: ``"auto"`` takes the strongest available (warning once
    if that is not bubblewrap), ``"bubblewrap"`` raises ``SandboxUnavailable`` without it, and
    ``"process"`` asks for the fallback explicitly. ``ENVFOUNDRY_SANDBOX`` overrides ``"auto"``.
    """
    global _warned
    if required == "auto":
        required = os.environ.get(ENV_VAR, "auto") or "auto"
    if required not in ("auto", *KINDS):
        raise ValueError(f"sandbox isolation must be 'auto', 'bubblewrap' or 'process', got {required!r}")
    if required == "process":
        found = Isolation("process", _process_detail(), weaker_because="the process fallback was requested")
    else:
        found = _detect()
    if required == "bubblewrap" and found.kind != "bubblewrap":
        raise SandboxUnavailable(f"bubblewrap isolation was required but {found.weaker_because}")
    if found.kind != "bubblewrap" and not _warned:
        _warned = True
        message = (
            f"envfoundry sandbox: {found.weaker_because}; untrusted environments run in the weaker "
            f"'process' isolation ({found.detail}). Set {ENV_VAR}=bubblewrap to refuse instead."
        )
        warnings.warn(message, SandboxWarning, stacklevel=3)
    return found


def command(kind: str, limits: SandboxLimits) -> list[str]:
    return bwrap_command(limits) if kind == "bubblewrap" else process_command()
