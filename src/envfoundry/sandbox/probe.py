"""The probe environment ``envfoundry doctor`` runs inside the sandbox.

Its instances are not tasks: ``generate`` tries, from inside a worker, each thing the isolation
must prevent and records what happened, so the doctor reports what the sandbox really does on this
machine rather than what it is configured to do. It is trusted code of this package (it is loaded
by module name and never registered).
"""

from __future__ import annotations

import os
import resource
import socket
import tempfile
from typing import Any

from envfoundry.core import Environment, IntParam

# A file every Linux host has and no sandboxed environment needs.
HOST_FILE = "/etc/passwd"
MARKER_VARIABLE = "ENVFOUNDRY_DOCTOR_MARKER"


def _try(action) -> str:
    """``allowed``, ``blocked (...)`` when the operating system refused, or ``inconclusive (...)``."""
    try:
        action()
    except OSError as exc:
        return f"blocked ({type(exc).__name__})"
    except Exception as exc:  # noqa: BLE001 - anything else says nothing about the isolation
        return f"inconclusive ({type(exc).__name__}: {exc})"
    return "allowed"


def _write_outside_tmp() -> None:
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the envfoundry package
    target = os.path.join(package, ".doctor-write-probe")
    with open(target, "w") as handle:
        handle.write("x")
    os.unlink(target)


class SandboxProbe(Environment):
    """Reports, from inside a sandbox worker, what the isolation allows."""

    name = "sandbox_probe"
    asymmetry = "algorithmic"
    space = {"port": IntParam(1, 65535, description="a port the host listens on, on 127.0.0.1")}

    def generate(self, rng, port: int) -> dict[str, Any]:
        def connect() -> None:
            # A numeric address and a plain socket: no name lookup that could fail for other reasons.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(("127.0.0.1", port))

        def read_host_file() -> None:
            with open(HOST_FILE) as handle:
                handle.read(1)

        def write_tmp() -> None:
            # The worker's own temporary directory: the private /tmp under bubblewrap, TMPDIR under
            # process isolation (where /tmp is the host's, and nothing should be left there).
            target = os.path.join(tempfile.gettempdir(), ".doctor-probe")
            with open(target, "w") as handle:
                handle.write("x")
            os.unlink(target)

        return {
            "uid": os.getuid(),
            "pid": os.getpid(),
            "environment_variables": sorted(os.environ),
            "marker_visible": MARKER_VARIABLE in os.environ,
            "network": _try(connect),
            "read_host_file": _try(read_host_file),
            "write_outside_tmp": _try(_write_outside_tmp),
            "write_tmp": _try(write_tmp),
            "rlimits": {
                "memory_bytes": resource.getrlimit(resource.RLIMIT_AS)[0],
                "cpu_seconds": resource.getrlimit(resource.RLIMIT_CPU)[0],
                "max_processes": resource.getrlimit(resource.RLIMIT_NPROC)[0],
                "file_size_bytes": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
                "open_files": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            },
        }

    def prompt(self, state: dict[str, Any]) -> str:
        return "Report the sandbox. Answer inside <answer></answer>."

    def reference(self, state: dict[str, Any]) -> str:
        return "ok"

    def verify(self, state: dict[str, Any], answer: str) -> bool:
        return answer == "ok"
