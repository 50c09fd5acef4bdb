"""The resolver: every source becomes an environment, and ``make(instance.env)`` gives it back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import envfoundry
from envfoundry import resolve
from envfoundry.archive import Archive
from envfoundry.core import Environment, register, wrap_answer
from envfoundry.curriculum import build_pool
from envfoundry.envs import seed_names
from envfoundry.resolve import Source, locate

CORPUS = Path(__file__).parent / "synth" / "corpus"
STAGES = ("static", "execution", "novelty", "review", "calibration")


def round_trip(env, seed=3):
    """The environment ``make(instance.env)`` gives back scores the instance as the original does."""
    instance = env.sample(seed, level=0.0)
    again = envfoundry.make(instance.env)
    try:
        assert again.name == env.name == instance.env
        assert again.sample(seed, level=0.0) == instance  # the same environment, not only the same name
        assert again.score(instance, wrap_answer(instance.reference)).correct
    finally:
        if hasattr(again, "close"):
            again.close()


@pytest.mark.parametrize("name", seed_names())
def test_a_seed_round_trips(name):
    round_trip(envfoundry.make(name))


@pytest.mark.parametrize("name", ["rg:chain_sum", "rg:basic_arithmetic"])
def test_a_reasoning_gym_instance_round_trips_under_one_spelling(name):
    env = envfoundry.make(name)
    assert env.name == name and locate(name) == Source("reasoning_gym", name[3:])
    round_trip(env)
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset 'chain_sum_'"):
        envfoundry.make("rg:chain_sum_")


@pytest.fixture
def forgetful(monkeypatch):
    """A resolver that has made nothing from files or archives yet in this process."""
    monkeypatch.setattr(resolve, "_known", {})


def archive_with_modular_power(root):
    reports = [{"name": n, "passed": True, "skipped": False, "reason": "ok", "seconds": 0.01} for n in STAGES]
    with Archive(root) as archive:
        archive.record((CORPUS / "admitted_modular_power.py").read_text(), reports=reports, admitted=True,
                       env_name="modular_power", info={"family": "number-theory", "asymmetry": "algorithmic"})  # fmt: skip
    return root


def test_an_archive_opened_by_directory_round_trips_too(tmp_path, forgetful):
    root = archive_with_modular_power(tmp_path / "archive")
    with envfoundry.make("modular_power", archive=root) as env:
        round_trip(env)
    with build_pool(f"archive:{root}") as pool:
        instance = pool.envs["modular_power"].sample(1, level=0.5)
        with envfoundry.make(instance.env) as again:
            assert again.score(instance, wrap_answer(instance.reference)).correct


def test_an_archived_environment_round_trips_by_its_archive_name(tmp_path, monkeypatch, forgetful):
    root = archive_with_modular_power(tmp_path / "archive")
    assert locate("modular_power", archive=root).origin == "archive"
    with pytest.raises(ValueError, match="unknown environment 'modular_power'"):
        locate("modular_power")  # not in the default archive until ENVFOUNDRY_ARCHIVE says so
    monkeypatch.setenv("ENVFOUNDRY_ARCHIVE", str(root))
    env = envfoundry.make("modular_power")
    try:
        assert type(env).__name__ == "SandboxedEnvironment"  # archived code never runs in this process
        round_trip(env)
    finally:
        env.close()
    with pytest.raises(ValueError, match="archived environments always run sandboxed"):
        envfoundry.make("modular_power", sandbox=False)


@pytest.mark.parametrize("sandbox", [False, None])
def test_a_file_is_known_by_its_environment_name_once_made(tmp_path, sandbox, forgetful):
    path = tmp_path / f"bracket_{sandbox}.py"
    path.write_text((CORPUS / "admitted_bracket_repair.py").read_text())
    env = envfoundry.make(path, sandbox=sandbox)
    try:
        assert locate(env.name) == Source("file", str(path.resolve()))
        round_trip(env)
        again = envfoundry.make(env.name)  # with the sandbox choice it was made with
        assert (type(again).__name__ == "SandboxedEnvironment") == (sandbox is None)
        if hasattr(again, "close"):
            again.close()
    finally:
        if hasattr(env, "close"):
            env.close()


def test_make_and_the_pool_resolve_alike(tmp_path):
    path = tmp_path / "bracket.py"
    path.write_text((CORPUS / "admitted_bracket_repair.py").read_text())
    with build_pool(["countdown", "rg:chain_sum", str(path)]) as pool:
        assert {name: env.origin for name, env in pool.envs.items()} == {
            "countdown": locate("countdown").origin,
            "rg:chain_sum": locate("rg:chain_sum").origin,
            "bracket_repair": locate(str(path)).origin,
        } == {"countdown": "seed", "rg:chain_sum": "reasoning_gym", "bracket_repair": "file"}


def test_a_registered_name_wins_and_namespaced_names_belong_to_adapters(tmp_path, forgetful):
    path = tmp_path / "knapsack_copy.py"
    path.write_text((CORPUS / "admitted_bracket_repair.py").read_text().replace('"bracket_repair"', '"knapsack"'))
    assert envfoundry.make(path, sandbox=False).name == "knapsack"
    assert locate("knapsack") == Source("seed", "knapsack")  # the file's environment does not shadow the seed

    class Hijack(Environment):
        """Would take over rg:chain_sum."""

        name = "rg:chain_sum"
        asymmetry = "algorithmic"
        space = {}

        def generate(self, rng):
            return {}

        def prompt(self, state):
            return "x"

        def reference(self, state):
            return "x"

        def verify(self, state, answer):
            return answer == "x"

    with pytest.raises(TypeError, match="names with ':' belong to adapters"):
        register(Hijack)
    assert locate("rg:chain_sum").origin == "reasoning_gym"


def test_bad_sources_are_one_sentence():
    with pytest.raises(ValueError, match="reasoning-gym datasets are spelled 'rg:chain_sum'"):
        envfoundry.make("rg_chain_sum")
    with pytest.raises(ValueError, match="no sandbox options apply"):
        envfoundry.make("rg:chain_sum", workers=2)
    with pytest.raises(ValueError, match="no environment file at 'missing/env.py'"):
        envfoundry.make("missing/env.py")
    with pytest.raises(ValueError, match="unknown environment 'knapsak'.*Did you mean 'knapsack'"):
        envfoundry.make("knapsak")
    with pytest.raises(ValueError, match="a name, rg:NAME or a path, got int"):
        envfoundry.make(3)
    with pytest.raises(ValueError, match=r"sandbox options \['workers'\] only apply with sandbox=True"):
        envfoundry.make("knapsack", workers=2)


def test_core_imports_nothing_above_it():
    # Importing the contract alone loads no higher layer (the import-linter contract checks the code).
    code = ("import sys, envfoundry.core; import envfoundry.core.registry as r; r.registered(); "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('envfoundry.') and "
            "m.split('.')[1] not in ('core', 'errors')}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the package's __init__ pulls in the resolver; the registry's first use loads the seed library
    assert out.strip() == "['envs', 'resolve']"
