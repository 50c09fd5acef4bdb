"""verl's custom reward function for envfoundry environments.

``envfoundry export verl`` writes a copy of this module beside the dataset (``DIR/reward.py``),
with ``SOURCES`` filled in; verl imports it by path in its reward workers::

    custom_reward_function.path=DIR/reward.py custom_reward_function.name=compute_score
    # or, one call per batch: reward_model.reward_manager=batch custom_reward_function.name=compute_score_batch

The label (``reward_model.ground_truth``) is the instance as JSON (``Instance.to_json()``): the
environment it names scores the response, exactly as ``env.score`` does anywhere else. Each
environment is made once per worker process and kept: seeds and ``rg:NAME`` by name, environments
from files or the archive from the copies in ``envs/`` beside this module (``SOURCES``), always in
the sandbox (bubblewrap must be installed on the training nodes, or ``ENVFOUNDRY_SANDBOX=process``
set knowingly).

Both functions return what verl's reward managers accept and log: a dict with ``score`` (the
reward in [0, 1]), ``acc`` (1.0 when fully correct), ``format_ok`` (1.0 when an answer block was
found) and ``pred`` (the extracted answer). Nothing in a response raises; a label that is not an
instance, or an environment that cannot be made, does: training on silent zeros is worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envfoundry.export.scoring import Environments, parse_instance, reward_info

# Environments the name alone does not find: name -> environment file, relative to this module.
SOURCES: dict[str, str] = {}
# Sandbox worker processes per sandboxed environment, in each reward worker process.
SANDBOX_WORKERS = 1

_environments: Environments | None = None


def environments() -> Environments:
    """This process's environments (made on first use, kept for the life of the process)."""
    global _environments
    if _environments is None:
        here = Path(__file__).resolve().parent
        _environments = Environments({name: str(here / path) for name, path in SOURCES.items()},
                                     sandbox_workers=SANDBOX_WORKERS)  # fmt: skip
    return _environments


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None,
                  **kwargs: Any) -> dict[str, Any]:  # fmt: skip
    """The reward of one response: verl's ``compute_score(data_source, solution_str, ground_truth,
    extra_info)``."""
    return reward_info(environments().score(parse_instance(ground_truth), solution_str))


def compute_score_batch(data_sources: Any, solution_strs: Any, ground_truths: Any, extra_infos: Any = None,
                        **kwargs: Any) -> list[dict[str, Any]]:  # fmt: skip
    """The rewards of a batch (verl's batch reward manager): one ``score_many`` per environment."""
    instances = [parse_instance(label) for label in ground_truths]
    return [reward_info(verdict) for verdict in environments().score_many(instances, list(solution_strs))]
