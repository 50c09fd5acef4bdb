"""Adapters: other libraries' task generators behind envfoundry's contract.

``envfoundry.adapters.reasoning_gym`` turns reasoning-gym datasets into environments. The names
below are re-exported lazily, so importing this package never imports reasoning-gym (nor the
adapter module, which ``python -m envfoundry.adapters.reasoning_gym`` runs as a script).
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
        vet,
    )

__all__ = [
    "DEFAULT_DATASETS",
    "ReasoningGymEnvironment",
    "available",
    "environment_class",
    "make_environment",
    "vet",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("envfoundry.adapters.reasoning_gym"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
