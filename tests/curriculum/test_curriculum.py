"""The curriculum: groups, statistics, active-set swaps, resume equality."""

from __future__ import annotations

import pytest

import envfoundry
from envfoundry.curriculum import TRAIN_SEED_BASE, Curriculum
from envfoundry.envs import seed_names

NAMES = ["planted_subset_sum", "knapsack", "sudoku", "countdown", "edit_distance", "grid_maze"]


def envs(names=NAMES):
    return {name: envfoundry.make(name) for name in names}


def run_step(curriculum, n_groups, reward_for):
    batch = curriculum.next_batch(n_groups)
    for request in batch:
        curriculum.report(request.group_id, reward_for(request))
    return batch, curriculum.end_step()


def test_groups_carry_environment_level_and_training_seeds():
    c = Curriculum(envs(), group_size=4, seed=1)
    batch = c.next_batch(12)
    assert len(batch) == 12 and {r.env for r in batch} == set(NAMES)  # spread over the active set
    for request in batch:
        assert request.instance.env == request.env and request.instance.level == request.level
        assert request.instance.seed >= TRAIN_SEED_BASE  # held-out seeds (below) are never trained on
    assert len({(r.env, r.instance.seed) for r in batch}) == 12


def test_statistics_count_dead_groups_and_drive_the_controllers():
    c = Curriculum(envs(["knapsack", "sudoku"]), group_size=4, seed=0)
    # knapsack: every rollout right (a dead group); sudoku: half right (informative)
    _, stats = run_step(c, 4, lambda r: [1.0] * 4 if r.env == "knapsack" else [1.0, 0.0, 1.0, 0.0])
    assert stats["groups"] == 4 and stats["dead_groups"] == 2 and stats["dead_share"] == 0.5
    assert stats["envs"]["knapsack"]["accuracy"] == 1.0 and stats["envs"]["knapsack"]["dead_share"] == 1.0
    assert stats["envs"]["sudoku"]["reward_std"] == 0.5
    assert c.controllers["knapsack"].d == 1.0 and c.controllers["sudoku"].d == 0.0  # SCALER moved knapsack up


def test_dead_groups_are_told_apart_by_whether_every_rollout_failed():
    c = Curriculum(envs(["knapsack", "sudoku"]), group_size=4, seed=0)
    # knapsack: every rollout only earns the format credit (dead, unsolved); sudoku: every one right
    _, stats = run_step(c, 4, lambda r: [0.1] * 4 if r.env == "knapsack" else [1.1] * 4)
    assert stats["dead_share"] == 1.0 and stats["dead_unsolved_share"] == 0.5
    assert stats["envs"]["knapsack"]["dead_unsolved_share"] == 1.0
    assert stats["envs"]["sudoku"]["dead_unsolved_share"] == 0.0


def test_an_environment_at_zero_accuracy_is_swapped_for_an_unlike_one():
    pool = envs()
    c = Curriculum(pool, group_size=4, active_size=3, seed_envs=list(pool), seed=3, patience=5)
    doomed = c.active[0]
    swaps = []
    for _ in range(5):
        _, stats = run_step(c, 6, lambda r: [0.0] * 4 if r.env == doomed else [1.0, 0.0, 0.0, 1.0])
        swaps += stats["swaps"]
    assert [s["out"] for s in swaps] == [doomed] and "5 straight steps at zero accuracy" in swaps[0]["reason"]
    assert doomed not in c.active and swaps[0]["in"] in c.active and len(c.active) == 3


def test_seed_environments_keep_their_share_of_the_active_set():
    pool = envs()
    seeds = ["knapsack", "sudoku"]
    c = Curriculum(pool, active_size=5, seed_envs=seeds, min_seed_share=0.2, seed=0)
    assert sum(n in seeds for n in c.active) >= 1
    for _ in range(6):  # every active env fails: all swap, but a seed still holds >= 20%
        run_step(c, 10, lambda r: [0.0] * 8)
        assert sum(n in seeds for n in c.active) >= 1


@pytest.mark.parametrize("n_groups", [1, 2, 3, 5, 7])
def test_seed_environments_get_their_share_of_every_batch(n_groups):
    # One seed among six active environments: spread evenly it would miss most small batches.
    c = Curriculum(envs(), group_size=4, active_size=6, seed_envs=["sudoku"], min_seed_share=0.2, seed=1)
    for _ in range(5):
        batch, _ = run_step(c, n_groups, lambda r: [0.0, 1.0, 0.0, 1.0])
        assert sum(request.env == "sudoku" for request in batch) >= -(-n_groups // 5)  # ceil(0.2 n)
        assert len({request.env for request in batch}) == min(n_groups, 6)  # the rest still spread out


def test_resume_gives_the_same_next_batch(tmp_path):
    def reward(r):
        return [1.0, 0.0] * 2 if r.instance.seed % 2 else [1.0] * 4

    first = Curriculum(envs(), group_size=4, active_size=4, seed_envs=NAMES[:2], seed=7)
    for _ in range(3):
        run_step(first, 6, reward)
    first.save(tmp_path / "curriculum.json")
    expected = [(r.env, r.level, r.instance.to_json()) for r in first.next_batch(6)]
    resumed = Curriculum(envs(), group_size=4, active_size=4, seed_envs=NAMES[:2], seed=999)
    resumed.load(tmp_path / "curriculum.json")
    assert [(r.env, r.level, r.instance.to_json()) for r in resumed.next_batch(6)] == expected
    with pytest.raises(ValueError, match=r"made for other environments \(4 of its 6 are missing here: countdown, "):
        Curriculum(envs(NAMES[:2])).load(tmp_path / "curriculum.json")
    with pytest.raises(ValueError, match="the saved curriculum has active_size 4; this one was made with 3"):
        Curriculum(envs(), group_size=4, active_size=3).load(tmp_path / "curriculum.json")
    with pytest.raises(ValueError, match="the saved curriculum has controller 'scaler'; this one was made with 'rlve'"):
        Curriculum(envs(), group_size=4, active_size=4, controller="rlve").load(tmp_path / "curriculum.json")
    with pytest.raises(ValueError, match="cannot read curriculum state"):
        Curriculum(envs()).load(tmp_path / "missing.json")


def test_bad_use_is_one_clear_error():
    c = Curriculum(envs(NAMES[:1]))
    with pytest.raises(ValueError, match="was not handed out"):
        c.report(99, [1.0])
    with pytest.raises(ValueError, match="group_size must be at least 2"):
        Curriculum(envs(NAMES[:1]), group_size=1)
    with pytest.raises(ValueError, match="at least one environment"):
        Curriculum({})
    assert len(seed_names()) >= len(NAMES)


def test_groups_fetched_ahead_stay_pending_across_a_step():
    c = Curriculum(envs(NAMES[:2]), group_size=2, seed=0)
    now, ahead = c.next_batch(2), c.next_batch(2)  # a trainer's data loader fetches the next batch early
    for request in now:
        c.report(request.group_id, [1.0, 0.0])
    assert c.end_step()["groups"] == 2
    assert all(c.awaiting(r.group_id) for r in ahead) and not any(c.awaiting(r.group_id) for r in now)
    for request in ahead:
        c.report(request.group_id, [0.0, 0.0])
    assert c.end_step()["dead_groups"] == 2
