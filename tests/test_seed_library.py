"""Every seed environment passes the battery that synthesized environments must pass.

A seed environment that our own checks would reject is a bug (see shared STYLE.md).
"""

from __future__ import annotations

import functools
import json

import pytest

import envfoundry
from envfoundry.checks.battery import (
    LEVELS,
    check_contract,
    check_determinism,
    check_difficulty_grows,
    check_no_leak,
    check_references,
    check_sample_time,
    check_wrong_answers,
    sample_in_subprocess,
)
from envfoundry.envs import seed_names

SEEDS = tuple(range(40))
NAMES = seed_names()
REQUIRED = {
    "shortest_path",
    "knapsack",
    "longest_increasing_subsequence",
    "course_schedule",
    "expression_eval",
    "edit_distance",
    "planted_subset_sum",
    "planted_3sat",
    "graph_coloring",
    "sudoku",
    "countdown",
    "grid_maze",
    "sliding_puzzle",
    "mapf_frozenlake",
}


@functools.cache
def samples(name: str) -> dict:
    env = envfoundry.make(name)
    return {level: [env.sample(seed, level=level) for seed in SEEDS] for level in LEVELS}


def test_the_library_has_the_fourteen_seed_environments_of_both_kinds():
    assert set(NAMES) >= REQUIRED
    kinds = {envfoundry.make(name).asymmetry for name in NAMES}
    assert kinds == {"algorithmic", "planted"}
    assert {envfoundry.make(name).family for name in NAMES} >= {"constraint", "spatial"}


@pytest.mark.parametrize("name", NAMES)
def test_contract_and_at_least_two_dimensions(name):
    env = envfoundry.make(name)
    assert check_contract(env).passed
    assert len(env.parameter_space) >= 2
    schema = env.parameter_space.json_schema()
    assert set(schema["properties"]) == set(env.parameter_space)


@pytest.mark.parametrize("name", NAMES)
def test_references_score_one_at_every_level(name):
    result = check_references(envfoundry.make(name), samples(name))
    assert result.passed, result.reason
    assert result.figures["instances"] == len(SEEDS) * len(LEVELS)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_answers_do_not_score_one(name):
    result = check_wrong_answers(envfoundry.make(name), samples(name))
    assert result.passed, result.to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_prompts_do_not_leak_the_reference(name):
    result = check_no_leak(envfoundry.make(name), samples(name))
    assert result.passed, result.reason


@pytest.mark.parametrize("name", NAMES)
def test_measured_difficulty_grows_with_level(name):
    result = check_difficulty_grows(envfoundry.make(name), samples(name))
    assert result.passed, result.to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_varied(name):
    result = check_determinism(envfoundry.make(name), SEEDS[:20])
    assert result.passed, result.reason


@pytest.mark.parametrize("name", NAMES)
def test_every_dimension_changes_the_instances(name):
    """Moving one dimension from its easiest to its hardest end changes what is sampled."""
    env = envfoundry.make(name)
    for dim, param in env.parameter_space.items():
        easy, hard = param.at_level(0.0), param.at_level(1.0)
        a = [env.sample(seed, level=0.5, params={dim: easy}).prompt for seed in range(5)]
        b = [env.sample(seed, level=0.5, params={dim: hard}).prompt for seed in range(5)]
        assert a != b, f"{name}: dimension '{dim}' does not change the prompt"


@pytest.mark.parametrize("name", NAMES)
def test_sampling_at_level_one_stays_within_budget(name):
    # A budget check (the execution stage of validation enforces the same), not a speed goal:
    # throughput is measured in benchmarks/throughput.py.
    result = check_sample_time(envfoundry.make(name), SEEDS[:20])
    assert result.passed, result.reason


def test_instances_are_identical_in_another_process():
    requests = [(seed, level) for seed in (0, 7, 123456789) for level in (0.0, 0.5, 1.0)]
    for name in NAMES:
        env = envfoundry.make(name)
        here = [env.sample(seed, level=level).to_json() for seed, level in requests]
        assert sample_in_subprocess(name, requests) == here, name


@pytest.mark.parametrize("name", NAMES)
def test_instances_survive_json_and_score_in_a_fresh_environment_object(name):
    for instance in samples(name)[0.5][:5]:
        data = json.loads(json.dumps(instance.to_dict()))
        assert envfoundry.make(name).score(data, f"<answer>{instance.reference}</answer>").reward == 1.0
