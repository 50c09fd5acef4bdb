"""What the engineer tests share (``conftest`` makes the fixtures of it): MAPF-FrozenLake, a stage
summary built from its real verdicts on scripted answers (a replay backend answers each held-out
instance as the test chose), and stage contexts to hand to an engineer."""

from __future__ import annotations

import collections

import pytest

import envfoundry
from envfoundry.curriculum.pool import PinnedEnvironment
from envfoundry.engineer.proposal import StageContext
from envfoundry.engineer.summaries import probe_cells, probe_dimension, summarise, validation_cells
from envfoundry.evaluate import evaluate_envs
from envfoundry.llm import ReplayChat

MAPF = envfoundry.make("mapf_frozenlake")
SPACE = MAPF.parameter_space
START = SPACE.at_level(0.0)  # size 4, 2 agents, hole ratio 0.05, wait ratio 0, horizon slack 4
SEEDS = 6
TRAINING = {"steps": 4, "dead_group_share": 0.75, "dead_unsolved_share": 0.5, "dead_group_share_per_step": [1, 1, .5, .5],
            "reward_mean": 0.125, "accuracy": 0.1, "seconds": 12.0}  # fmt: skip


def scene(prompt: str) -> str:
    """The board and the agents' lines of a MAPF prompt: what tells its instances apart."""
    return "\n\n".join(prompt.split("\n\n")[1:3])


def scripted_answers() -> dict[int, str]:
    """One answer per held-out seed of ``START``, each failing (or not) in a known way."""
    plans = {seed: MAPF.sample(seed, params=START).reference.splitlines() for seed in range(SEEDS)}
    short = {seed: "\n".join([plans[seed][0][:-1], *plans[seed][1:]]) for seed in (2, 3)}  # agent 1 stops short
    horizon = MAPF.sample(4, params=START).state["horizon"]
    return {
        0: f"<answer>{chr(10).join(plans[0])}</answer>",  # right
        1: "I am not sure how the agents should move.",  # no answer block
        2: f"<answer>{short[2]}</answer>",  # agent 2 walks into agent 1, who stayed home
        3: f"<answer>{short[3]}</answer>",  # agent 1 stops next to its goal
        4: "<answer>" + "\n".join([plans[4][0] + "W" * (horizon + 1), *plans[4][1:]]) + "</answer>",  # too long
        5: "<answer>1: D\n2: U</answer>",  # agent 1 walks off the bottom of the grid
    }


EXPECTED = {0: None, 1: "unparseable", 2: "agent_conflict", 3: "wrong_goal", 4: "timeout", 5: "illegal_move"}


@pytest.fixture(scope="session")
def replay_policy() -> ReplayChat:
    answers = scripted_answers()
    rules = [{"when": scene(MAPF.sample(seed, params=START).prompt), "replies": [answer]}
             for seed, answer in answers.items()]  # fmt: skip
    return ReplayChat([*rules, {"replies": ["<answer>1: W\n2: W</answer>"]}])  # any other instance


@pytest.fixture(scope="session")
def stage_summary(replay_policy) -> dict:
    """Stage 1's summary at ``START``: its probe cells and the validation at level 0, evaluated on
    ``SEEDS`` held-out instances each, answered by ``replay_policy``."""
    cells = probe_cells(SPACE, START)
    validation = validation_cells(SPACE, [0.0])
    envs = {label: PinnedEnvironment(MAPF, params) for label, params in {**cells, **validation}.items()}
    evaluation = evaluate_envs(replay_policy, envs, levels=[0.0], seeds=SEEDS, progress=False)
    results = {label: by_level["0"] for label, by_level in evaluation["results"].items()}
    return summarise(1, START, cells, validation, results, TRAINING, probe_dimension(SPACE, START))


def context(summary: dict, config: dict | None = None, stage: int = 1, history=(), policy=None, seed: int = 0):
    return StageContext(stage, MAPF.name, MAPF.description, SPACE, dict(config or summary["config"]), summary,
                        list(history), seed, policy)  # fmt: skip


def with_pass_rate(summary: dict, rate: float) -> dict:
    """``summary`` with the current configuration's pass rate set to ``rate``."""
    cells = [dict(cell, pass_rate=rate) if cell["cell"] == "current" else cell for cell in summary["cells"]]
    return {**summary, "cells": cells}


def failure_counts(verdicts) -> dict:
    return dict(collections.Counter(v.failure for v in verdicts if v.failure is not None))
