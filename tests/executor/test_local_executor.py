"""The executor interface and the local process pool: results in order, work in other processes,
the first failure raised, bad settings in one sentence, and Ray never imported unless chosen.
(Everything Ray runs in tests/executor/test_ray_cluster.py, on one local cluster.)"""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

from envfoundry.errors import InvalidInputError
from envfoundry.executor import LocalExecutor, make_executor


def pid_and_square(value: int) -> tuple[int, int]:
    return os.getpid(), value * value


@pytest.fixture(scope="module")
def pool():
    with LocalExecutor(workers=2) as executor:
        yield executor


def test_a_pool_of_two_runs_items_in_other_processes_and_keeps_their_order(pool):
    results = pool.map(pid_and_square, range(8), progress=False)
    assert [square for _, square in results] == [value * value for value in range(8)]
    pids = {pid for pid, _ in results}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    # functools.partial of a module-level function travels too, and the pool is reused.
    assert pool.map(functools.partial(pow, exp=3), [1, 2, 3], progress=False) == [1, 8, 27]


def test_the_first_failure_is_raised_as_itself(pool):
    with pytest.raises(ValueError, match="invalid literal for int"):
        pool.map(int, ["1", "x", "3", "4"], progress=False)
    assert pool.map(int, ["5"], progress=False) == [5]  # the pool still works after a failure


def test_one_worker_runs_here_in_order():
    executor = make_executor("local", workers=1)
    assert isinstance(executor, LocalExecutor) and executor.workers == 1
    assert executor.map(pid_and_square, [3, 1], progress=False) == [(os.getpid(), 9), (os.getpid(), 1)]
    assert executor.map(pid_and_square, [], progress=False) == []


@pytest.mark.parametrize(("call", "message"), [
    (lambda: make_executor("dask"), "unknown executor 'dask': choose one of local, ray"),
    (lambda: make_executor("local", workers=0), "workers must be a positive integer, got 0"),
    (lambda: make_executor("local", address="ray://head:10001"), "an address applies to the ray executor only"),
])  # fmt: skip
def test_bad_settings_are_one_sentence(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_importing_the_executors_does_not_import_ray():
    code = "import sys, envfoundry.executor; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"
