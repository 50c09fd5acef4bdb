"""Adaptive multi-environment curriculum: difficulty controllers, the active set, the sampler."""

from envfoundry.curriculum.controllers import (
    Controller,
    FixedController,
    RlveController,
    ScalerController,
    make_controller,
)
from envfoundry.curriculum.curriculum import TRAIN_SEED_BASE, Curriculum, GroupRequest
from envfoundry.curriculum.pool import LazyEnvironment, Pool, build_pool

__all__ = [
    "Controller",
    "Curriculum",
    "FixedController",
    "GroupRequest",
    "LazyEnvironment",
    "Pool",
    "RlveController",
    "ScalerController",
    "TRAIN_SEED_BASE",
    "build_pool",
    "make_controller",
]
