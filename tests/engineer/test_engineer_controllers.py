"""The baselines the model engineer is compared with decide as documented: fixed, the hand-written
heuristic, random perturbation and SCALER's level controller; bad engineer settings are one
sentence."""

from __future__ import annotations

import pytest
from engineer_helpers import SPACE, START, context, with_pass_rate

from envfoundry.engineer import make_engineer
from envfoundry.engineer.proposal import diff
from envfoundry.errors import InvalidInputError


def decide(name: str, summary: dict, rate: float, config: dict | None = None, **options) -> dict:
    proposal = make_engineer(name).propose(context(with_pass_rate(summary, rate), config=config, **options))
    assert proposal.outcome == "rule" and proposal.rationale
    return proposal.config


def test_fixed_keeps_the_configuration(stage_summary):
    assert decide("fixed", stage_summary, 0.0) == START and decide("fixed", stage_summary, 1.0) == START


def test_the_heuristic_raises_the_hardest_dimension_above_80_percent_and_lowers_it_below_20(stage_summary):
    config = {**START, "size": 5, "hole_ratio": 0.2}  # hole_ratio is furthest along (60%), then size (25%)
    assert diff(config, decide("heuristic", stage_summary, 0.9, config)) == [
        {"param": "hole_ratio", "from": 0.2, "to": 0.25}]  # fmt: skip
    assert diff(config, decide("heuristic", stage_summary, 0.1, config)) == [
        {"param": "hole_ratio", "from": 0.2, "to": 0.15}]  # fmt: skip
    assert decide("heuristic", stage_summary, 0.5, config) == config  # in between: keep
    # At its easiest everywhere, lowering is impossible; raising takes the first dimension.
    assert decide("heuristic", stage_summary, 0.0) == START
    assert decide("heuristic", stage_summary, 1.0) == {**START, "size": 5}
    # A dimension at its hardest cannot rise: the next one furthest along does.
    topped = {**START, "hole_ratio": 0.3, "size": 5}
    assert diff(topped, decide("heuristic", stage_summary, 0.9, topped)) == [{"param": "size", "from": 5, "to": 6}]


def test_random_moves_one_dimension_one_step_and_is_a_function_of_seed_and_stage(stage_summary):
    moves = {}
    for stage in range(1, 9):
        config = decide("random", stage_summary, 0.5, stage=stage)
        assert config == decide("random", stage_summary, 0.5, stage=stage)  # a resumed run decides the same
        (change,) = diff(START, config)
        moves[stage] = change["param"]
    assert len(set(moves.values())) > 1  # different stages, different dimensions
    assert any(decide("random", stage_summary, 0.5, stage=stage, seed=1) != decide("random", stage_summary, 0.5,
                                                                                   stage=stage) for stage in range(1, 9))  # fmt: skip


def test_scaler_moves_the_level_by_k_times_the_gap_to_half_and_replays_the_history(stage_summary):
    # d <- clip(d + clip(2 (acc - 0.5), -1, 1), 0, 10); the configuration is the space at d / 10.
    assert decide("scaler", stage_summary, 1.0) == SPACE.at_level(0.1)
    assert decide("scaler", stage_summary, 0.75) == SPACE.at_level(0.05)
    assert decide("scaler", stage_summary, 0.0) == SPACE.at_level(0.0)  # clipped at the bottom
    history = [{"stage": 1, "config": START, "pass_rate": 1.0}, {"stage": 2, "config": START, "pass_rate": 1.0}]
    assert decide("scaler", stage_summary, 0.25, stage=3, history=history) == SPACE.at_level(0.15)


def test_bad_engineer_settings_are_one_sentence(tmp_path):
    with pytest.raises(InvalidInputError, match="the fixed baseline reads no prompt"):
        make_engineer("fixed", ablate=["failures"])
    with pytest.raises(InvalidInputError, match="unknown ablation 'rewards'"):
        make_engineer("policy", ablate=["rewards"])
    with pytest.raises(InvalidInputError, match="needs its model id"):
        make_engineer("http://localhost:1/v1")
    with pytest.raises(InvalidInputError, match="unknown engineer 'oracle'"):
        make_engineer("oracle")
    with pytest.raises(InvalidInputError, match="cannot read the replay file"):
        make_engineer(f"replay:{tmp_path / 'missing.json'}")
