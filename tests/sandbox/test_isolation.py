"""The sandbox fails closed: where bubblewrap cannot run, nothing untrusted runs unless weaker
isolation is asked for by name (argument, ``ENVFOUNDRY_SANDBOX`` or ``envfoundry --isolation``).

A machine without bubblewrap is simulated with a PATH that holds no ``bwrap`` (or a ``bwrap`` that
cannot create namespaces), so these tests run, and mean the same, with or without it installed.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
from pathlib import Path

import pytest

import envfoundry
from envfoundry.cli.main import main
from envfoundry.errors import EnvfoundryError
from envfoundry.sandbox import (
    IsolationSettingError,
    SandboxedEnvironment,
    SandboxLimits,
    SandboxPool,
    SandboxUnavailable,
    SandboxWarning,
    isolation,
    pool,
    resolve_isolation,
)
from envfoundry.sandbox.doctor import diagnose
from envfoundry.sandbox.host_worker import Worker

NO_NAMESPACES = "bwrap: No permissions to create new namespace, likely because the kernel does not allow it."
FIX_PARTS = (
    "apt-get install bubblewrap",
    'isolation="process"',
    "--isolation process",
    "ENVFOUNDRY_SANDBOX=process",
)


def _fresh_probe() -> None:
    isolation._detect.cache_clear()


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    """This process sees a machine without bubblewrap and with no isolation setting."""
    empty = tmp_path / "bin-without-bwrap"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(isolation.ENV_VAR, raising=False)
    monkeypatch.setattr(isolation, "_warned", False)
    _fresh_probe()
    yield
    _fresh_probe()  # the next test probes the real machine again


@pytest.fixture
def broken_bwrap(monkeypatch, tmp_path):
    """A bwrap that is installed but cannot start (as without unprivileged user namespaces)."""
    directory = tmp_path / "bin-with-broken-bwrap"
    directory.mkdir()
    fake = directory / "bwrap"
    fake.write_text(f"#!/bin/sh\necho '{NO_NAMESPACES}' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv(isolation.ENV_VAR, raising=False)
    _fresh_probe()
    yield
    _fresh_probe()


@pytest.fixture
def started_workers(monkeypatch):
    """Every sandbox worker the pool starts during the test."""
    started: list[Worker] = []

    def counting(*args, **kwargs):
        worker = Worker(*args, **kwargs)
        started.append(worker)
        return worker

    monkeypatch.setattr(pool, "Worker", counting)
    return started


@pytest.fixture
def host_tmp_marker():
    """A path in the host's /tmp that an environment module writes when it is loaded."""
    path = Path("/tmp") / f"envfoundry-fail-closed-{uuid.uuid4().hex}"
    yield path
    path.unlink(missing_ok=True)


def _writes_on_load(write_env, marker: Path) -> Path:
    """An environment file whose module code writes ``marker`` into the host's /tmp when loaded."""
    path = write_env(name="writes_host_tmp.py")
    path.write_text(path.read_text() + f"\nwith open({str(marker)!r}, 'w') as handle:\n    handle.write('x')\n")
    return path


def _assert_names_the_fix(message: str, problem: str) -> None:
    assert "\n" not in message
    assert message.startswith(f"bubblewrap cannot run here ({problem}), so the sandbox refuses to run untrusted code")
    for part in FIX_PARTS:
        assert part in message


# ----- without bubblewrap: one clear error, and nothing runs ---------------------------------------
def test_without_bubblewrap_nothing_untrusted_runs_and_the_error_names_the_fix(
    no_bwrap, write_env, host_tmp_marker, started_workers
):
    path = _writes_on_load(write_env, host_tmp_marker)
    for setting in (None, "auto", "bubblewrap"):
        with pytest.raises(SandboxUnavailable) as caught:
            SandboxedEnvironment(path, workers=1, static_check=False, isolation=setting)
        assert isinstance(caught.value, EnvfoundryError) and isinstance(caught.value, RuntimeError)
        _assert_names_the_fix(str(caught.value), "bwrap is not installed")
    with pytest.raises(SandboxUnavailable, match="bwrap is not installed"):
        envfoundry.make(str(path), static_check=False)
    with pytest.raises(SandboxUnavailable, match="bwrap is not installed"):
        envfoundry.make("knapsack", sandbox=True)
    with pytest.raises(SandboxUnavailable, match="bwrap is not installed"):
        SandboxPool({"module": "envfoundry.envs.knapsack"}, None, SandboxLimits(), 1)
    assert started_workers == [] and not host_tmp_marker.exists()


def test_bubblewrap_that_cannot_start_refuses_the_same_way(broken_bwrap, write_env, started_workers):
    with pytest.raises(SandboxUnavailable) as caught:
        SandboxedEnvironment(write_env(), workers=1)
    _assert_names_the_fix(str(caught.value), f"bwrap failed to start Python: {NO_NAMESPACES}")
    assert started_workers == []


def test_a_worker_is_never_started_without_isolation(no_bwrap, write_env):
    nothing = isolation._detect()
    assert nothing.kind == "none" and nothing.weaker_because == "bwrap is not installed"
    before = set(isolation._uids_in_use)
    with pytest.raises(SandboxUnavailable, match="under isolation 'none'"):
        Worker(nothing, SandboxLimits(), {"module": "envfoundry.envs.knapsack"})
    assert isolation._uids_in_use == before


def test_isolation_settings_that_are_not_kinds_are_one_clear_error(monkeypatch):
    with pytest.raises(IsolationSettingError, match="must be 'bubblewrap' or 'process'.*got isolation='docker'"):
        resolve_isolation("docker")
    monkeypatch.setenv(isolation.ENV_VAR, "docker")
    with pytest.raises(IsolationSettingError, match="got ENVFOUNDRY_SANDBOX=docker") as caught:
        resolve_isolation()
    assert isinstance(caught.value, EnvfoundryError) and isinstance(caught.value, ValueError)
    for value in ("", "auto", "bubblewrap"):
        monkeypatch.setenv(isolation.ENV_VAR, value)
        assert isolation.requested() == ("bubblewrap", "the default" if value in ("", "auto") else
                                         "ENVFOUNDRY_SANDBOX=bubblewrap")  # fmt: skip


# ----- the opt-ins: weaker isolation, knowingly, with one warning ---------------------------------
def test_the_process_argument_runs_without_bubblewrap_and_warns_once(no_bwrap, write_env, host_tmp_marker):
    path = _writes_on_load(write_env, host_tmp_marker)
    with pytest.warns(SandboxWarning, match="weaker 'process' isolation because isolation='process' asked for it"):
        env = SandboxedEnvironment(path, workers=1, static_check=False, isolation="process")
    try:
        assert env.isolation.kind == "process"
        benign = write_env(name="benign.py")
        assert env.sample(4) == envfoundry.make(benign, sandbox=False).sample(4)
        # What the opt-in accepts: the environment's code reached the host's /tmp.
        assert host_tmp_marker.exists()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            SandboxedEnvironment(benign, workers=1, isolation="process").close()  # warned once only
    finally:
        env.close()


def test_the_environment_variable_opts_in_and_an_argument_overrides_it(no_bwrap, write_env, monkeypatch):
    monkeypatch.setenv(isolation.ENV_VAR, "process")
    path = write_env()
    with pytest.warns(SandboxWarning, match="because ENVFOUNDRY_SANDBOX=process asked for it"):
        env = envfoundry.make(str(path), workers=1)
    with env:
        assert env.isolation.kind == "process" and env.sample(2).seed == 2
    with pytest.raises(SandboxUnavailable, match="bwrap is not installed"):
        SandboxedEnvironment(path, workers=1, isolation="bubblewrap")


def test_the_cli_flag_opts_in_for_one_command(no_bwrap, write_env, capsys):
    path = str(write_env())
    code = main(["sample", path])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"envfoundry: error: cannot run '{path}' in the sandbox: bubblewrap cannot run here")
    assert all(part in err for part in FIX_PARTS)

    with pytest.warns(SandboxWarning, match="because ENVFOUNDRY_SANDBOX=process asked for it"):
        code = main(["--isolation", "process", "sample", path, "--n", "2", "--jsonl"])
    out, _ = capsys.readouterr()
    local = envfoundry.make(path, sandbox=False)
    assert code == 0 and out.splitlines() == [local.sample(seed).to_json() for seed in (0, 1)]
    assert isolation.ENV_VAR not in os.environ  # the flag lasts one command

    with pytest.raises(SystemExit):
        main(["--isolation", "docker", "list"])


def test_isolation_setting_restores_what_was_there(monkeypatch):
    monkeypatch.setenv(isolation.ENV_VAR, "bubblewrap")
    with isolation.isolation_setting("process"):
        assert os.environ[isolation.ENV_VAR] == "process"
    assert os.environ[isolation.ENV_VAR] == "bubblewrap"
    with isolation.isolation_setting(None):
        assert os.environ[isolation.ENV_VAR] == "bubblewrap"
    monkeypatch.delenv(isolation.ENV_VAR)
    with pytest.raises(KeyError), isolation.isolation_setting("process"):
        raise KeyError("the setting is undone on the way out of an error too")
    assert isolation.ENV_VAR not in os.environ


# ----- envfoundry doctor ---------------------------------------------------------------------------
def test_doctor_fails_without_bubblewrap_and_prints_the_fix(no_bwrap, capsys, started_workers):
    code = main(["doctor"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "isolation: none (the sandbox refuses to run untrusted code)" in out
    assert "NOT healthy: bubblewrap cannot run here (bwrap is not installed)" in out
    assert all(part in out for part in FIX_PARTS)
    code = main(["doctor", "--json"])
    report = json.loads(capsys.readouterr()[0])
    assert code == 1 and not report["healthy"] and report["checks"] == []
    assert report["bubblewrap_problem"] == "bwrap is not installed"
    assert report["fix"] == isolation.unavailable_message("bwrap is not installed")
    assert started_workers == []  # the doctor, too, runs nothing without isolation


def test_doctor_with_the_process_opt_in_probes_but_says_it_is_weaker(no_bwrap, capsys):
    with pytest.warns(SandboxWarning):
        code = main(["--isolation", "process", "doctor"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "isolation: process (" in out
    assert "WARNING: weaker than bubblewrap because ENVFOUNDRY_SANDBOX=process asked for it" in out
    assert "[ok] worker starts" in out and "[FAIL] host files hidden" in out
    assert "NOT healthy: process isolation leaves the host's files and network open; bubblewrap cannot run " \
           "here (bwrap is not installed): install it (e.g. `apt-get install bubblewrap`)" in out  # fmt: skip


def test_doctor_rejects_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv(isolation.ENV_VAR, "docker")
    code = main(["doctor"])
    _, err = capsys.readouterr()
    assert code == 2 and err == "envfoundry: error: sandbox isolation must be 'bubblewrap' or 'process' ('auto' " \
                                "means bubblewrap), got ENVFOUNDRY_SANDBOX=docker\n"  # fmt: skip


@pytest.mark.usefixtures("bubblewrap")
def test_doctor_is_healthy_under_bubblewrap_and_names_the_way_back_from_process(monkeypatch):
    monkeypatch.delenv(isolation.ENV_VAR, raising=False)
    report = diagnose()
    assert report["isolation"] == "bubblewrap" and report["healthy"] and report["fix"] is None
    monkeypatch.setattr(isolation, "_warned", True)  # the warning is tested above
    report = diagnose(isolation="process")
    assert report["isolation"] == "process" and not report["healthy"]
    assert report["fix"] == "bubblewrap works here: drop the process opt-in to use it"
