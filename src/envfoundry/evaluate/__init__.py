"""Held-out evaluation: pass rates per environment and level on fixed instances, for the embedded
model, a local checkpoint or an OpenAI-compatible server (``envfoundry eval``).

``run_eval`` builds the model and the suite, evaluates and writes the JSON the report and the
evolve loop read; ``evaluate_envs`` evaluates a model already made on environments already made;
``resolve_suite`` names the suites (``seeds``, ``rg``, ``converted[:DIR]`` or any pool spec).
The held-out seeds are ``0 .. n-1``, the ones ``train``'s own evaluation uses, disjoint from every
training seed.
"""

from envfoundry.evaluate.run import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEVELS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_SEEDS,
    check_levels,
    evaluate_envs,
    held_out_seeds,
    make_backend,
    run_eval,
)
from envfoundry.evaluate.suites import RG_SUITE, SUITES, resolve_suite

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_LEVELS",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_SEEDS",
    "RG_SUITE",
    "SUITES",
    "check_levels",
    "evaluate_envs",
    "held_out_seeds",
    "make_backend",
    "resolve_suite",
    "run_eval",
]
