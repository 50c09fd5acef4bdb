"""SandboxedEnvironment and its pool: the same API and results as in-process, batching, recovery."""

from __future__ import annotations

import os
import time

import pytest

import envfoundry
from envfoundry import Environment
from envfoundry.core.answer import wrap_answer
from envfoundry.envs import seed_names
from envfoundry.sandbox import (
    SandboxCallError,
    SandboxedEnvironment,
    SandboxError,
    SandboxLimits,
    SandboxRejected,
    isolation,
)

pytestmark = pytest.mark.usefixtures("bubblewrap")
FAST = SandboxLimits(call_timeout_s=0.5, grace_s=0.3)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return "\nState:\tZ" not in handle.read()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("name", seed_names())
def test_every_seed_gives_the_same_instances_and_verdicts_through_the_sandbox(name):
    local = envfoundry.make(name)
    with envfoundry.make(name, sandbox=True, workers=2) as boxed:
        assert isinstance(boxed, SandboxedEnvironment) and boxed.isolation.kind == "bubblewrap"
        assert (boxed.name, boxed.version, boxed.asymmetry, boxed.family) == (
            local.name, local.version, local.asymmetry, local.family)  # fmt: skip
        assert boxed.description == local.description and dict(boxed.parameter_space) == dict(local.parameter_space)
        for level in (0.0, 1.0):
            seeds = list(range(20))
            theirs = boxed.sample_many(seeds, level=level)
            ours = [local.sample(seed, level=level) for seed in seeds]
            assert [i.to_dict() for i in theirs] == [i.to_dict() for i in ours]
            responses = [wrap_answer(i.reference) for i in ours[:10]] + ["<answer>0</answer>", "no tags"] * 5
            assert [v.to_dict() for v in boxed.score_many(ours, responses)] == [
                local.score(i, r).to_dict() for i, r in zip(ours, responses, strict=True)
            ]
        instance = ours[0]
        assert boxed.score_answer(instance, instance.reference) == local.score_answer(instance, instance.reference)
        params = {next(iter(local.space)): local.parameter_space.at_level(0.0)[next(iter(local.space))]}
        assert boxed.sample(7, params=params) == local.sample(7, params=params)


def test_make_sandboxes_files_by_default_and_trusts_what_it_is_told(write_env):
    path = write_env()
    boxed = envfoundry.make(str(path))
    try:
        assert isinstance(boxed, SandboxedEnvironment) and boxed.name == "echo_test"
    finally:
        boxed.close()
    trusted = envfoundry.make(path, sandbox=False)
    assert isinstance(trusted, Environment) and trusted.sample(3) == envfoundry.make(path).sample(3)
    assert isinstance(envfoundry.make("knapsack"), Environment)
    with pytest.raises(ValueError, match="only apply with sandbox=True"):
        envfoundry.make("knapsack", workers=2)
    with pytest.raises(ValueError, match="sandbox must be True, False or None"):
        envfoundry.make("knapsack", sandbox="yes")


def test_caller_mistakes_fail_on_the_host_as_they_do_in_process(write_env):
    with SandboxedEnvironment(write_env(), workers=1) as env:
        for kwargs, message in [
            ({"level": 2}, r"level must be in \[0, 1\]"),
            ({"params": {"sizes": 3}}, "unknown parameter 'sizes'"),
            ({"params": {"size": 99}}, r"must be in \[1, 50\]"),
        ]:
            with pytest.raises(ValueError, match=message):
                env.sample(0, **kwargs)
        with pytest.raises(ValueError, match="seed must be an integer"):
            env.sample_many([1, "2"])
        other = envfoundry.make("knapsack").sample(0)
        with pytest.raises(ValueError, match="belongs to environment 'knapsack'"):
            env.score(other, "<answer>1</answer>")
        with pytest.raises(ValueError, match="got 1 instances but 2 responses"):
            env.score_many([env.sample(0)], ["a", "b"])
        instance = env.sample(0)
        assert env.score(instance, "no answer block").format_ok is False
        assert env.score(instance, 42).reason == "response must be a string, got int"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def broken(:\n", "'.*bad.py' has a syntax error at line 1"),
        ("raise RuntimeError('no')\n", "importing '.*bad.py' raised RuntimeError: no"),
        ("x = 1\n", "exactly one subclass of envfoundry.Environment, found 0"),
        ("import socket\n", "'.*bad.py' was rejected before running: line 1: imports 'socket'"),
    ],
)
def test_files_that_cannot_load_give_one_clear_error(tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(ValueError, match=message) as caught:
        SandboxedEnvironment(path, workers=1)
    assert "\n" not in str(caught.value)
    if "socket" in source:
        assert isinstance(caught.value, SandboxRejected)


def test_a_crash_mid_batch_costs_one_item_and_the_rest_are_served(write_env):
    path = write_env(on_verify="import os\nos._exit(3)")
    with SandboxedEnvironment(path, workers=2, static_check=False) as env:
        instances = env.sample_many(range(6))
        answers = [wrap_answer(i.reference) for i in instances]
        answers[2] = "<answer>attack</answer>"
        verdicts = env.score_many(instances, answers)
        assert [v.correct for v in verdicts] == [True, True, False, True, True, True]
        assert verdicts[2].metadata == {"sandbox_error": "crash"}
        assert verdicts[2].reason.startswith("sandbox: the sandbox worker exited (status 3)")
        assert env.restarts >= 1
        assert env.score(instances[0], answers[0]).correct  # the pool carries on


def test_timeouts_are_per_item_and_recycle_the_worker(write_env):
    path = write_env(on_generate="import time\ntime.sleep(30)")
    with SandboxedEnvironment(path, workers=1, limits=FAST, static_check=False) as env:
        started = time.perf_counter()
        with pytest.raises(SandboxError, match=r"took longer than 0.5 s") as caught:
            env.sample(1, params={"size": 13})
        assert caught.value.kind == "timeout" and time.perf_counter() - started < 5
        assert env.restarts == 1
        assert env.sample(1, params={"size": 3}).params == {"size": 3}


def test_strict_batches_raise_with_every_result_attached(write_env):
    path = write_env(on_generate="raise KeyError('boom')")
    with SandboxedEnvironment(path, workers=1, static_check=False) as env:
        with pytest.raises(SandboxCallError, match="3 of 3 sample calls failed.*KeyError: 'boom'") as caught:
            env.sample_many([1, 2, 3], params={"size": 13})
        assert len(caught.value.results) == 3 and all(r.kind == "error" for r in caught.value.results)
        mixed = env.sample_many([1, 2], params={"size": 4}, strict=False)
        assert all(i.params == {"size": 4} for i in mixed)
        assert env.restarts == 0  # an ordinary exception does not cost the worker


def test_workers_are_recycled_after_n_calls(write_env):
    limits = SandboxLimits(calls_per_worker=5)
    with SandboxedEnvironment(write_env(), workers=1, limits=limits) as env:
        first = env.worker_pids()
        instances = env.sample_many(range(12))
        later = env.sample_many(range(12, 20))
        assert [i.seed for i in instances + later] == list(range(20))
        assert env.restarts >= 2 and env.worker_pids() != first


def test_close_stops_every_worker(write_env):
    env = SandboxedEnvironment(write_env(), workers=2)
    pids = env.worker_pids()
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    env.close()
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        env.sample(1)


def test_cold_start_is_recorded(write_env):
    with SandboxedEnvironment(write_env(), workers=2) as env:
        assert 0 < env.cold_start_s < 30 and env.workers == 2


def test_limits_reach_the_worker(write_env):
    source = """
import resource
limits = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE)]
raise ValueError(f"limits {limits}")
"""
    limits = SandboxLimits(memory_bytes=300 * 2**20, open_files=40, file_size_bytes=2**20)
    with SandboxedEnvironment(write_env(on_generate=source), workers=1, limits=limits, static_check=False) as env:
        with pytest.raises(SandboxError, match=rf"limits \[{300 * 2**20}, 40, {2**20}\]"):
            env.sample(0, params={"size": 13})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"call_timeout_s": 0}, "'call_timeout_s' must be at least 0.01"),
        ({"memory_bytes": 1.5}, "'memory_bytes' must be a whole number"),
        ({"workers_please": 1}, None),
        ({"open_files": float("nan")}, "'open_files' must be a finite number"),
    ],
)
def test_limits_are_validated(kwargs, message):
    if message is None:
        with pytest.raises(ValueError, match="unknown sandbox limit"):
            SandboxLimits.from_dict(kwargs)
    else:
        with pytest.raises(ValueError, match=message):
            SandboxLimits(**kwargs)


def test_workers_must_be_positive(write_env):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        SandboxedEnvironment(write_env(), workers=0)
    with pytest.raises(ValueError, match="exactly one of a path"):
        SandboxedEnvironment()
    assert os.getpid() > 0


def test_a_worker_that_cannot_even_start_is_one_clear_error(write_env, monkeypatch):
    from envfoundry.sandbox import host_worker

    monkeypatch.setattr(host_worker, "command", lambda kind, limits: ["/nonexistent/bwrap"])
    before = set(isolation._uids_in_use)
    with pytest.raises(SandboxError, match="a sandbox worker could not be started: .*No such file") as caught:
        SandboxedEnvironment(write_env(), workers=2)
    assert caught.value.kind == "load"
    assert isolation._uids_in_use == before  # no uid leaked
