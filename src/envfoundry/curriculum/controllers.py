"""Per-environment difficulty controllers: they choose the levels of the next groups from the
accuracy of the last ones.

A controller works on integer difficulty steps ``0..d_max`` mapped onto the environment's level in
[0, 1] (step ``d`` is level ``d / d_max``). ``levels_for(n)`` gives the levels of the next ``n``
groups; ``update(outcomes)`` takes ``(level, accuracy, rollouts)`` per group that was scored.
State is plain JSON (``state_dict`` / ``load_state_dict``), so a run resumes exactly.

* ``ScalerController`` (SCALER): d <- clip(d + clip(k (acc - target), -1, 1), 0, d_max) once per
  step on the step's mean accuracy; a fractional d is realised by mixing the floor and ceiling
  steps within a batch in proportion.
* ``RlveController`` (RLVE): a window of the top ``window`` steps [h - window + 1, h], sampled
  uniformly; h rises by one when accuracy at step h reaches ``threshold`` over at least
  ``min_rollouts`` rollouts at h (counted since h was reached).
* ``FixedController``: one level, always.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from envfoundry.errors import InvalidInputError

Outcome = tuple[float, float, int]  # (level, accuracy of the group, rollouts in the group)


def _check_step(d_max: int) -> None:
    if isinstance(d_max, bool) or not isinstance(d_max, int) or d_max < 1:
        raise InvalidInputError(f"d_max must be a positive integer, got {d_max!r}")


class Controller:
    name = "controller"

    def levels_for(self, n: int, rng: random.Random) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, outcomes: Sequence[Outcome]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def level(self) -> float:
        """The controller's current difficulty as a level in [0, 1]."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def at_top(self) -> bool:
        return self.level >= 1.0 - 1e-9

    def state_dict(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class ScalerController(Controller):
    target: float = 0.5
    k: float = 2.0
    d_max: int = 10
    d: float = 0.0
    name = "scaler"

    def __post_init__(self) -> None:
        _check_step(self.d_max)
        if not 0.0 < self.target < 1.0:
            raise InvalidInputError(f"target must be in (0, 1), got {self.target}")
        if self.k <= 0:
            raise InvalidInputError(f"k must be positive, got {self.k}")
        self.d = float(min(max(self.d, 0.0), self.d_max))

    @property
    def level(self) -> float:
        return self.d / self.d_max

    def levels_for(self, n: int, rng: random.Random) -> list[float]:
        """Floor and ceiling steps mixed in proportion to d's fraction (ceiling groups placed at
        random), so the batch's mean step is d up to rounding."""
        low = math.floor(self.d)
        high = min(low + 1, self.d_max)
        n_high = round((self.d - low) * n) if high != low else 0
        steps = [high] * n_high + [low] * (n - n_high)
        rng.shuffle(steps)
        return [step / self.d_max for step in steps]

    def update(self, outcomes: Sequence[Outcome]) -> None:
        rollouts = sum(r for _, _, r in outcomes)
        if rollouts == 0:
            return
        accuracy = sum(a * r for _, a, r in outcomes) / rollouts
        self.d = min(max(self.d + max(-1.0, min(1.0, self.k * (accuracy - self.target))), 0.0), float(self.d_max))

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "target": self.target, "k": self.k, "d_max": self.d_max, "d": self.d}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.target, self.k, self.d_max, self.d = state["target"], state["k"], state["d_max"], state["d"]


@dataclass
class RlveController(Controller):
    window: int = 4
    threshold: float = 0.9
    min_rollouts: int = 64  # 8 x the group size, by default a group of 8
    d_max: int = 10
    h: int = 0
    top_rollouts: int = 0
    top_correct: float = 0.0
    name = "rlve"

    def __post_init__(self) -> None:
        _check_step(self.d_max)
        if self.window < 1 or self.min_rollouts < 1 or not 0.0 < self.threshold <= 1.0:
            raise InvalidInputError("window and min_rollouts must be positive and threshold in (0, 1]")

    @property
    def level(self) -> float:
        return self.h / self.d_max

    def levels_for(self, n: int, rng: random.Random) -> list[float]:
        low = max(0, self.h - self.window + 1)
        return [rng.randint(low, self.h) / self.d_max for _ in range(n)]

    def update(self, outcomes: Sequence[Outcome]) -> None:
        top = self.h / self.d_max
        for level, accuracy, rollouts in outcomes:
            if abs(level - top) < 1e-9:
                self.top_rollouts += rollouts
                self.top_correct += accuracy * rollouts
        if (
            self.h < self.d_max
            and self.top_rollouts >= self.min_rollouts
            and self.top_correct / self.top_rollouts >= self.threshold
        ):
            self.h += 1
            self.top_rollouts, self.top_correct = 0, 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "window": self.window, "threshold": self.threshold,
                "min_rollouts": self.min_rollouts, "d_max": self.d_max, "h": self.h,
                "top_rollouts": self.top_rollouts, "top_correct": self.top_correct}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("window", "threshold", "min_rollouts", "d_max", "h", "top_rollouts", "top_correct"):
            setattr(self, key, state[key])


@dataclass
class FixedController(Controller):
    fixed_level: float = 0.5
    name = "fixed"

    def __post_init__(self) -> None:
        if not 0.0 <= self.fixed_level <= 1.0:
            raise InvalidInputError(f"level must be in [0, 1], got {self.fixed_level}")

    @property
    def level(self) -> float:
        return self.fixed_level

    def levels_for(self, n: int, rng: random.Random) -> list[float]:
        return [self.fixed_level] * n

    def update(self, outcomes: Sequence[Outcome]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.name, "fixed_level": self.fixed_level}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fixed_level = state["fixed_level"]


CONTROLLERS = {"scaler": ScalerController, "rlve": RlveController, "fixed": FixedController}


def make_controller(kind: str, **options: Any) -> Controller:
    """A controller by name (``scaler``, ``rlve``, ``fixed``); an unknown name is a clear ``ValueError``."""
    if kind not in CONTROLLERS:
        raise InvalidInputError(f"unknown controller {kind!r}; choose one of {', '.join(CONTROLLERS)}")
    return CONTROLLERS[kind](**options)


def controller_from_state(state: dict[str, Any]) -> Controller:
    controller = make_controller(state["kind"])
    controller.load_state_dict(state)
    return controller
