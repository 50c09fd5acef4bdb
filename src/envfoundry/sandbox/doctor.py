"""``envfoundry doctor``: which isolation is active here, and proof that it holds.

The report starts a real sandbox pool with the probe environment (``probe.py``), lets it try what
isolation must prevent, and checks each finding from the host. ``healthy`` is true only when the
workers run under bubblewrap and every property holds. Where bubblewrap cannot run, the doctor
fails closed like every sandbox: it starts nothing and prints the fix (``isolation.FIX``). With the
``process`` opt-in it still probes, but says how much weaker that is, and is never healthy.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
import threading
from typing import Any

from envfoundry.sandbox.codec import orjson
from envfoundry.sandbox.environment import SandboxedEnvironment
from envfoundry.sandbox.isolation import _detect, requested, resolve_isolation, unavailable_message
from envfoundry.sandbox.limits import SandboxLimits
from envfoundry.sandbox.pool import SandboxError
from envfoundry.sandbox.probe import MARKER_VARIABLE


def _listener() -> tuple[socket.socket, list[bool]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    accepted: list[bool] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(True)
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


def diagnose(limits: SandboxLimits | None = None, isolation: str | None = None) -> dict[str, Any]:
    """Everything the doctor knows, as JSON-ready data. ``isolation`` is the setting to examine
    (as for ``SandboxedEnvironment``: ``None`` lets ``ENVFOUNDRY_SANDBOX`` decide); ``fix`` says
    what to do when the report is not healthy for want of bubblewrap."""
    limits = limits or SandboxLimits()
    kind, _ = requested(isolation)
    bubblewrap = _detect()
    problem = bubblewrap.weaker_because  # None when bubblewrap works here
    report: dict[str, Any] = {
        "envfoundry": _version(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": platform.platform(),
        "running_as_root": os.geteuid() == 0,
        "bwrap": shutil.which("bwrap"),
        "bubblewrap_problem": problem,
        "fast_json": orjson is not None,
        "limits": limits.to_dict(),
        "checks": [],
        "healthy": False,
    }
    if kind == "bubblewrap" and problem is not None:
        # The sandbox would refuse every environment: so does the doctor, with the same fix.
        report.update(isolation=bubblewrap.kind, isolation_detail=bubblewrap.detail, weaker_because=problem,
                      fix=unavailable_message(problem))  # fmt: skip
        return report
    active = resolve_isolation(isolation)
    report.update(isolation=active.kind, isolation_detail=active.detail, weaker_because=active.weaker_because)
    if active.kind == "bubblewrap":
        report["fix"] = None
    elif problem is None:
        report["fix"] = "bubblewrap works here: drop the process opt-in to use it"
    else:
        report["fix"] = (
            f"bubblewrap cannot run here ({problem}): install it (e.g. `apt-get install bubblewrap`) and drop the "
            "process opt-in"
        )
    checks: list[dict[str, Any]] = report["checks"]

    def check(name: str, passed: bool, detail: str) -> None:
        checks.append({"name": name, "passed": bool(passed), "detail": detail})

    server, accepted = _listener()
    os.environ[MARKER_VARIABLE] = "visible-to-the-host-only"
    try:
        env = SandboxedEnvironment(module="envfoundry.sandbox.probe", limits=limits, workers=1, isolation=isolation)
    except SandboxError as exc:
        check("worker starts", False, str(exc))
        return report
    finally:
        del os.environ[MARKER_VARIABLE]
    try:
        report["cold_start_s"] = round(env.cold_start_s, 3)
        check("worker starts", True, f"one worker started and loaded the probe in {env.cold_start_s * 1000:.0f} ms")
        state = env.sample(0, params={"port": server.getsockname()[1]}).state
    finally:
        env.close()
        server.close()
    privileged = os.geteuid() == 0
    check("network", state["network"].startswith("blocked") and not accepted,
          f"connecting to a listener on the host's 127.0.0.1: {state['network']}")
    check("host files hidden", state["read_host_file"].startswith("blocked"),
          f"reading /etc/passwd: {state['read_host_file']}")
    check("host files read-only", state["write_outside_tmp"].startswith("blocked"),
          f"writing into the envfoundry package: {state['write_outside_tmp']}")
    check("private /tmp writable", state["write_tmp"] == "allowed",
          f"writing its temporary directory: {state['write_tmp']}")
    check("environment scrubbed", not state["marker_visible"],
          f"host variable {'visible' if state['marker_visible'] else 'not visible'}; the worker sees "
          f"{', '.join(state['environment_variables']) or 'no variables'}")
    if privileged:
        check("own uid", state["uid"] >= 100_000, f"the worker runs as uid {state['uid']} (the host is root)")
    check("own PID namespace", state["pid"] < 10,
          f"the worker sees itself as pid {state['pid']}")
    expected = {
        "memory_bytes": limits.memory_bytes,
        "cpu_seconds": limits.cpu_seconds,
        "file_size_bytes": limits.file_size_bytes,
        "open_files": limits.open_files,
    }
    wrong = [f"{key}={state['rlimits'][key]}" for key, value in expected.items() if state["rlimits"][key] != value]
    check("rlimits", not wrong, "as configured" if not wrong else "differ: " + ", ".join(wrong))
    report["healthy"] = active.kind == "bubblewrap" and all(c["passed"] for c in checks)
    return report  # fmt: skip


def format_report(report: dict[str, Any]) -> str:
    mib = 1024 * 1024
    limits = report["limits"]
    bwrap, problem = report["bwrap"], report["bubblewrap_problem"]
    lines = [
        f"envfoundry {report['envfoundry']}, Python {report['python']}",
        f"platform: {report['platform']}{' (root)' if report['running_as_root'] else ''}",
        f"bwrap: {bwrap or 'not found'}" + (f" (cannot start: {problem})" if bwrap and problem else ""),
        f"fast JSON (orjson): {'yes' if report['fast_json'] else 'no - the sandbox is slower'}",
        f"isolation: {report['isolation']} ({report['isolation_detail']})",
    ]
    if report["isolation"] == "process":
        lines.append(f"  WARNING: weaker than bubblewrap because {report['weaker_because']}")
    lines.append(
        f"limits: {limits['call_timeout_s']:g} s per call, {limits['memory_bytes'] / mib:.0f} MiB per worker, "
        f"{limits['cpu_seconds']} CPU s per worker, {limits['max_processes']} processes, "
        f"{limits['file_size_bytes'] / mib:.0f} MiB files, {limits['open_files']} open files, "
        f"{limits['tmp_bytes'] / mib:.0f} MiB /tmp, recycled after {limits['calls_per_worker']} calls"
    )
    for item in report["checks"]:
        lines.append(f"  [{'ok' if item['passed'] else 'FAIL'}] {item['name']}: {item['detail']}")
    if report["healthy"]:
        lines.append("healthy: untrusted environments are confined")
    elif report["isolation"] == "process":
        lines.append(f"NOT healthy: process isolation leaves the host's files and network open; {report['fix']}")
    else:
        lines.append(f"NOT healthy: {report['fix'] or 'see the lines above'}")
    return "\n".join(lines)


def _version() -> str:
    """The installed package's version (read from its metadata: the package's root sits above this layer)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("envfoundry")
    except PackageNotFoundError:
        return "unknown"
