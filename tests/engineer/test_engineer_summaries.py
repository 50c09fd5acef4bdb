"""What the engineer reads: probe cells around a configuration, the environment pinned to a cell,
and per-cell summaries aggregated from MAPF-FrozenLake's real verdicts (failure classes, failing
replies, reward spread), with training's statistics."""

from __future__ import annotations

import statistics

import pytest
from engineer_helpers import EXPECTED, MAPF, SEEDS, SPACE, START, TRAINING, failure_counts, scripted_answers

from envfoundry.core.params import ChoiceParam, FloatParam, IntParam, ParamSpace
from envfoundry.curriculum.pool import PinnedEnvironment
from envfoundry.engineer.summaries import (
    current_cell,
    difficulty,
    probe_cells,
    probe_dimension,
    step,
    training_statistics,
)
from envfoundry.errors import InvalidInputError


def test_a_step_moves_one_fifth_of_a_range_the_harder_way_and_stops_at_the_ends():
    size, slack, holes = SPACE["size"], SPACE["horizon_slack"], SPACE["hole_ratio"]
    assert step(size, 4, harder=True) == 5 and step(size, 4, harder=False) is None
    assert step(slack, 4, harder=True) == 3 and step(slack, 0, harder=True) is None  # less slack is harder
    assert step(holes, 0.05, harder=True) == pytest.approx(0.1) and step(holes, 0.3, harder=True) is None
    assert step(holes, 0.28, harder=True) == 0.3  # clamped to the end of the range
    colours = ChoiceParam(["red", "green", "blue"])
    assert step(colours, "red", harder=True) == "green" and step(colours, "blue", harder=True) is None
    assert difficulty(slack, 4) == 0.0 and difficulty(slack, 0) == 1.0 and difficulty(colours, "blue") == 1.0


def test_the_probe_follows_the_dimension_furthest_along_and_cells_exist_only_inside_the_space():
    assert probe_dimension(SPACE, START) == "size"  # all at their easiest: the first in the space's order
    cells = probe_cells(SPACE, START)
    assert cells == {"current": START, "size harder": {**START, "size": 5}}  # nothing easier than the easiest
    raised = {**START, "hole_ratio": 0.2, "size": 5}  # hole_ratio is 60% along, size 25%
    assert probe_dimension(SPACE, raised) == "hole_ratio"
    assert set(probe_cells(SPACE, raised)) == {"current", "hole_ratio harder", "hole_ratio easier"}
    assert probe_cells(SPACE, raised)["hole_ratio easier"]["hole_ratio"] == pytest.approx(0.15)
    assert list(probe_cells(SPACE, raised, probe=False)) == ["current"]
    fixed = ParamSpace({"n": IntParam(3, 3), "p": FloatParam(0.0, 1.0)})
    assert probe_dimension(fixed, {"n": 3, "p": 0.0}) == "p"  # a dimension with one value cannot move


def test_a_pinned_environment_samples_its_configuration_at_any_level():
    pinned = PinnedEnvironment(MAPF, {"size": 6, "agents": 3})
    for level in (0.0, 1.0):
        instance = pinned.sample(7, level=level)
        assert instance.params["size"] == 6 and instance.params["agents"] == 3
    assert pinned.sample(7, level=0.0).params["hole_ratio"] != pinned.sample(7, level=1.0).params["hole_ratio"]
    assert pinned.sample(7, params={"size": 4}).params["size"] == 4  # what the caller asks for wins
    assert [i.params for i in pinned.sample_many([1, 2], level=0.3)] == [pinned.sample(1, level=0.3).params] * 2
    assert pinned.name == "mapf_frozenlake" and pinned.score(pinned.sample(1), "no block").failure == "unparseable"
    with pytest.raises(InvalidInputError, match="parameter 'size' must be in"):
        PinnedEnvironment(MAPF, {"size": 99})


def test_cells_are_summarised_from_the_real_verdicts(stage_summary):
    answers = scripted_answers()
    instances = [MAPF.sample(seed, params=START) for seed in range(SEEDS)]
    verdicts = [MAPF.score(instance, answers[seed]) for seed, instance in enumerate(instances)]
    assert [v.failure for v in verdicts] == [EXPECTED[seed] for seed in range(SEEDS)]  # every class, once
    current = current_cell(stage_summary)
    assert current["params"] == START and current["n"] == SEEDS
    assert current["pass_rate"] == pytest.approx(1 / SEEDS)
    assert current["failures"] == failure_counts(verdicts)
    assert current["mean_reward"] == pytest.approx(statistics.fmean(v.reward for v in verdicts))
    assert current["reward_std"] == pytest.approx(statistics.pstdev(v.reward for v in verdicts))
    assert current["format_rate"] == pytest.approx(5 / 6)  # one answer had no answer block
    # The first failing replies, with the verifier's reason and class.
    assert [e["failure"] for e in current["examples"]] == ["unparseable", "agent_conflict"]
    assert current["examples"][0]["reply"] == answers[1] and "agents 1 and 2" in current["examples"][1]["reason"]
    harder = stage_summary["cells"][1]
    assert harder["cell"] == "size harder" and harder["params"]["size"] == 5 and harder["pass_rate"] == 0.0
    assert stage_summary["probe"] == "size" and stage_summary["training"] == TRAINING
    validation = stage_summary["validation"]
    assert validation["cells"]["validation level 0"]["level"] == 0.0
    assert validation["pass_rate"] == current["pass_rate"]  # level 0 is the start: the same instances


def test_training_statistics_come_from_the_summary_and_the_curriculum_steps():
    steps = [{"reward_mean": 0.5, "envs": {"mapf_frozenlake": {"accuracy": 0.25}}},
             {"reward_mean": 0.0, "envs": {"mapf_frozenlake": {"accuracy": 0.0}}}]  # fmt: skip
    stats = training_statistics({"steps": 2, "dead_group_share": 0.5, "dead_group_share_per_step": [0, 1]}, steps)
    assert stats["reward_mean"] == 0.25 and stats["accuracy"] == 0.125 and stats["dead_group_share"] == 0.5
    assert training_statistics({}, [])["reward_mean"] is None
