"""Adapters: other libraries' task generators behind envfoundry's contract.

``envfoundry.adapters.reasoning_gym`` turns reasoning-gym datasets into environments
(``envfoundry.checks.reasoning_gym`` says which of them pass envfoundry's checks). The names below
are re-exported lazily, so importing this package never imports reasoning-gym.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envfoundry.adapters.reasoning_gym import (
        DEFAULT_DATASETS,
        ReasoningGymEnvironment,
        available,
        environment_class,
        make_environment,
    )

# Each re-exported name and the module that defines it.
_HOMES = {
    "DEFAULT_DATASETS": "envfoundry.adapters.reasoning_gym",
    "ReasoningGymEnvironment": "envfoundry.adapters.reasoning_gym",
    "available": "envfoundry.adapters.reasoning_gym",
    "environment_class": "envfoundry.adapters.reasoning_gym",
    "make_environment": "envfoundry.adapters.reasoning_gym",
}
__all__ = [
    "DEFAULT_DATASETS",
    "ReasoningGymEnvironment",
    "available",
    "environment_class",
    "make_environment",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
