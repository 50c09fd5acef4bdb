"""Adaptive multi-environment curriculum: difficulty controllers, the active set, the sampler."""

from envfoundry.curriculum.controllers import (
    Controller,
    FixedController,
    RlveController,
    ScalerController,
    make_controller,
)
from envfoundry.curriculum.curriculum import TRAIN_SEED_BASE, Curriculum, GroupRequest

__all__ = [
    "Controller",
    "Curriculum",
    "FixedController",
    "GroupRequest",
    "RlveController",
    "ScalerController",
    "TRAIN_SEED_BASE",
    "make_controller",
]
