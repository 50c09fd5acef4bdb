"""The pool: seeds, archived environments (sandboxed, started lazily, released on swap-out), files."""

from __future__ import annotations

from pathlib import Path

import pytest

import envfoundry
from envfoundry.archive import Archive
from envfoundry.curriculum import Curriculum, LazyEnvironment, build_pool
from envfoundry.envs import seed_names

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
STAGES = ("static", "execution", "novelty", "review", "calibration")
ADMITTED = {"bracket_repair": "admitted_bracket_repair.py", "modular_power": "admitted_modular_power.py"}


@pytest.fixture
def archive_dir(tmp_path):
    root = tmp_path / "archive"
    reports = [{"name": n, "passed": True, "skipped": False, "reason": "ok", "seconds": 0.01} for n in STAGES]
    with Archive(root) as archive:
        for name, file in ADMITTED.items():
            source = (CORPUS / file).read_text()
            info = {"family": "from-archive", "asymmetry": "algorithmic", "novelty": {"prompts": [f"{name} prompt"]}}
            archive.record(source, reports=reports, admitted=True, env_name=name, info=info)
        archive.record("x = 1\n", reports=[{**reports[0], "passed": False, "reason": "no class"}], admitted=False,
                       env_name=None)  # fmt: skip
    return root


def test_seeds_are_the_seed_library_in_process():
    with build_pool("seeds") as pool:
        assert sorted(pool.envs) == sorted(seed_names()) and pool.seed_names == list(pool.envs)
        assert pool.origins() == {"seed": len(seed_names())}
        assert all(env.is_open for env in pool.envs.values())  # in-process: nothing to defer


def test_archive_entries_are_known_without_starting_them_and_run_sandboxed(archive_dir):
    with build_pool(["knapsack", f"archive:{archive_dir}"]) as pool:
        assert sorted(pool.envs) == ["bracket_repair", "knapsack", "modular_power"]  # the rejected one is not in it
        assert pool.origins() == {"seed": 1, "archive": 2} and pool.seed_names == ["knapsack"]
        lazy = pool.envs["modular_power"]
        assert not lazy.is_open and lazy.family == "from-archive" and lazy.prompts == ["modular_power prompt"]
        instance = lazy.sample(3, level=0.5)  # first use starts its sandbox
        assert lazy.is_open and lazy.opened == 1 and type(lazy.env).__name__ == "SandboxedEnvironment"
        assert lazy.score(instance, f"<answer>{instance.reference}</answer>").correct
        lazy.release()
        assert not lazy.is_open
        assert lazy.sample(3, level=0.5).prompt == instance.prompt and lazy.opened == 2  # back on demand


def test_the_default_archive_and_archived_names(archive_dir, monkeypatch):
    monkeypatch.setenv("ENVFOUNDRY_ARCHIVE", str(archive_dir))
    with build_pool("archive") as pool:
        assert sorted(pool.envs) == sorted(ADMITTED)
    with build_pool("bracket_repair,countdown") as pool:
        assert pool.envs["bracket_repair"].origin == "archive" and pool.envs["countdown"].origin == "seed"


def test_a_file_runs_sandboxed_and_names_are_listed_once(tmp_path):
    path = CORPUS / "admitted_word_ladder.py"
    with build_pool([str(path), "seeds", "knapsack", str(path)]) as pool:
        assert pool.envs["word_ladder"].origin == "file" and len(pool) == len(seed_names()) + 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "the environment pool is empty"),
        ("seeds,no_such_env", "unknown environment 'no_such_env'"),
        ("archive:/nonexistent/archive", "no archive at '/nonexistent/archive'"),
        ("missing_file.py", "no environment file at 'missing_file.py'"),
    ],
)
def test_bad_specs_are_one_clear_sentence(spec, message):
    with pytest.raises(ValueError, match=message):
        build_pool(spec)


def test_an_archive_with_nothing_admitted_and_a_name_clash(tmp_path):
    with Archive(tmp_path / "empty"):
        pass
    with pytest.raises(ValueError, match="has no admitted environments yet"):
        build_pool(f"archive:{tmp_path / 'empty'}")
    clash = tmp_path / "knapsack_copy.py"
    clash.write_text((CORPUS / "novelty_renamed_knapsack.py").read_text().replace('name = "', 'name = "knapsack" #'))
    with pytest.raises(ValueError, match="two environments in the pool are named 'knapsack'"):
        build_pool(["knapsack", str(clash)])


def test_the_curriculum_releases_what_it_swaps_out_and_restarts_it_on_return(archive_dir):
    with build_pool(["countdown", f"archive:{archive_dir}"]) as pool:
        c = Curriculum(pool.envs, group_size=2, active_size=2, seed_envs=pool.seed_names, seed=0, patience=1)
        target = next(name for name in c.active if pool.envs[name].origin == "archive")
        (waiting,) = [name for name in pool.envs if name not in c.active]
        batch = c.next_batch(4)
        assert pool.envs[target].is_open  # only active ones start
        assert waiting == "countdown" or not pool.envs[waiting].is_open
        for request in batch:  # the target at zero accuracy (patience 1 swaps it out), the other informative
            c.report(request.group_id, [0.0, 0.0] if request.env == target else [1.0, 0.0])
        stats = c.end_step()
        assert [(s["out"], s["in"]) for s in stats["swaps"]] == [(target, waiting)]
        assert not pool.envs[target].is_open and waiting in c.active  # its sandbox workers stopped
        assert isinstance(pool.envs[target], LazyEnvironment)


def test_reasoning_gym_datasets_join_the_pool_and_the_command_line(capsys):
    from envfoundry.adapters.reasoning_gym import DEFAULT_DATASETS
    from envfoundry.cli.main import main

    with build_pool("rg:chain_sum,reasoning-gym,countdown") as pool:
        assert pool.origins() == {"reasoning_gym": len(DEFAULT_DATASETS), "seed": 1}
        env = pool.envs["rg:chain_sum"]
        instance = env.sample(5, level=0.0)
        assert env.score(instance, f"<answer>{instance.reference}</answer>").correct
    with pytest.raises(ValueError, match="unknown reasoning-gym dataset 'chain_summ'"):
        build_pool("rg:chain_summ")
    assert envfoundry.make("rg:chain_sum").name == "rg:chain_sum"  # the same name through make()
    with pytest.raises(ValueError, match="'rg:chain_sum' runs in this process"):
        envfoundry.make("rg:chain_sum", sandbox=True)
    assert main(["sample", "rg:chain_sum", "--level", "0", "--json"]) == 0
    assert '"env": "rg:chain_sum"' in capsys.readouterr().out.replace('":"', '": "')
    assert main(["show", "rg:chain_summ"]) == 2 and "did you mean 'chain_sum'" in capsys.readouterr().err


def test_an_environment_scored_after_its_swap_is_stopped_again_at_the_next_step(archive_dir):
    with build_pool(["countdown", f"archive:{archive_dir}"]) as pool:
        assert not any(env.is_open for env in pool.envs.values() if env.origin == "archive")  # nothing started yet
        c = Curriculum(pool.envs, group_size=2, active_size=2, seed_envs=pool.seed_names, seed=0, patience=1)
        target = next(name for name in c.active if pool.envs[name].origin == "archive")
        now, ahead = c.next_batch(4), c.next_batch(4)  # a trainer fetches the next batch before scoring this one
        for request in now:
            c.report(request.group_id, [0.0, 0.0] if request.env == target else [1.0, 0.0])
        c.end_step()
        assert target not in c.active and pool.envs[target].is_open  # swapped out, but owed scores for `ahead`
        for request in ahead:
            instance = request.instance
            pool.envs[request.env].score(instance, f"<answer>{instance.reference}</answer>")
            c.report(request.group_id, [1.0, 0.0])
        c.end_step()
        assert not pool.envs[target].is_open
        assert not any(env.is_open for name, env in pool.envs.items() if name not in c.active)


def test_a_file_given_twice_starts_no_second_sandbox_and_stays_stopped_until_used():
    path = CORPUS / "admitted_word_ladder.py"
    with build_pool([str(path), str(path)]) as pool:
        (env,) = pool.envs.values()
        assert not env.is_open and env.opened == 1  # started once to read its name, then stopped
