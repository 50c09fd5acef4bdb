"""Controller rules: exact updates for given accuracy streams."""

from __future__ import annotations

import random

import pytest

from envfoundry.curriculum import FixedController, RlveController, ScalerController, make_controller
from envfoundry.curriculum.controllers import controller_from_state


def test_scaler_follows_its_update_rule_exactly():
    c = ScalerController(target=0.5, k=2.0, d_max=10)
    trajectory = []
    for accuracy in (1.0, 1.0, 0.9, 0.5, 0.2, 0.0, 0.75, 1.0, 0.0, 0.0, 0.0):
        c.update([(c.level, accuracy, 8)])
        trajectory.append(round(c.d, 6))
    # d + clip(2 (acc - 0.5), -1, 1), clipped to [0, 10]
    assert trajectory == [1.0, 2.0, 2.8, 2.8, 2.2, 1.2, 1.7, 2.7, 1.7, 0.7, 0.0]
    c = ScalerController(d=10.0)
    c.update([(1.0, 1.0, 8)])
    assert c.d == 10.0  # clipped at d_max
    c.update([(1.0, 0.0, 8), (1.0, 0.0, 8)])
    assert c.d == 9.0  # a step moves at most 1
    c.update([])
    assert c.d == 9.0  # no rollouts, no change


def test_scaler_weights_accuracy_by_rollouts_and_mixes_floor_and_ceiling():
    c = ScalerController(d=3.0)
    c.update([(0.3, 1.0, 2), (0.3, 0.0, 6)])  # accuracy 0.25 -> d - 0.5
    assert c.d == pytest.approx(2.5)
    levels = c.levels_for(10, random.Random(0))
    assert sorted(levels) == [0.2] * 5 + [0.3] * 5
    c.d = 2.3
    assert sorted(c.levels_for(10, random.Random(1))) == [0.2] * 7 + [0.3] * 3


def test_rlve_raises_the_top_only_after_enough_rollouts_at_the_top():
    c = RlveController(window=4, threshold=0.9, min_rollouts=16, d_max=10)
    assert c.levels_for(5, random.Random(0)) == [0.0] * 5
    c.update([(0.0, 1.0, 8)])
    assert c.h == 0  # 8 rollouts: not enough yet
    c.update([(0.0, 1.0, 8)])
    assert c.h == 1 and c.top_rollouts == 0  # 16 at >= 0.9: up one, counters reset
    c.update([(0.0, 1.0, 64)])  # rollouts below the top do not count
    assert c.h == 1
    c.update([(0.1, 0.85, 16)])
    assert c.h == 1  # 0.85 < 0.9
    c.update([(0.1, 1.0, 16)])
    assert c.h == 2  # (0.85*16 + 16) / 32 = 0.925
    for _ in range(5):
        c.update([(c.level, 1.0, 16)])
    assert c.h == 7 and set(c.levels_for(200, random.Random(2))) == {0.4, 0.5, 0.6, 0.7}


def test_fixed_never_moves_and_states_round_trip():
    f = FixedController(0.3)
    f.update([(0.3, 1.0, 8)] * 10)
    assert f.levels_for(3, random.Random(0)) == [0.3] * 3
    for c in (ScalerController(d=4.5, k=1.5), RlveController(h=3, top_rollouts=5, top_correct=4.0), f):
        copy = controller_from_state(c.state_dict())
        assert type(copy) is type(c) and copy.state_dict() == c.state_dict()
    with pytest.raises(ValueError, match="unknown controller 'pid'"):
        make_controller("pid")
    with pytest.raises(ValueError, match="target must be in"):
        ScalerController(target=1.5)
