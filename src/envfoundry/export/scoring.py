"""Scoring instances outside the process that sampled them: in a trainer's reward worker, or as a
batch spread over an executor.

An exported instance carries its environment's name (``Instance.env``), and ``envfoundry.make``
finds most environments by name alone: the seed library, ``rg:NAME``, the default archive. An
environment that came from a file, or from an archive the scoring machine does not have, is made
from the copy of its source the export wrote (``sources``: name -> file), sandboxed as always.

``Environments`` keeps what it made for the life of the process (a sandboxed environment keeps its
worker processes), which is what a reward function called millions of times wants. ``score_pairs``
scores a batch of (instance, response) pairs on an executor: the pairs are grouped by environment
and cut into chunks, each chunk is one task that makes its environment where it runs (a sandbox
on that worker), scores the chunk in one ``score_many`` and closes it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from envfoundry.core.environment import Instance, Verdict
from envfoundry.errors import InvalidInputError
from envfoundry.resolve import looks_like_path, make

# Pairs per task: large enough that a task's sandbox start-up (about 0.3 s) is small beside its work.
CHUNK = 256


def reward_info(verdict: Verdict) -> dict[str, Any]:
    """A verdict as a trainer logs it: ``score`` (the reward), ``acc`` (1.0 when fully correct),
    ``format_ok`` (1.0 when an answer block was found) and ``pred`` (the extracted answer, ``""``
    without one). Every key is there for every response, with one type each, as verl needs."""
    return {
        "score": float(verdict.reward),
        "acc": 1.0 if verdict.correct else 0.0,
        "format_ok": 1.0 if verdict.format_ok else 0.0,
        "pred": verdict.answer if verdict.answer is not None else "",
    }


def parse_instance(label: Any) -> Instance:
    """An instance from its JSON text (an export's label) or its ``to_dict()``."""
    if isinstance(label, Instance):
        return label
    if isinstance(label, (str, bytes)):
        return Instance.from_json(label.decode() if isinstance(label, bytes) else label)
    if isinstance(label, Mapping):
        return Instance.from_dict(label)
    raise InvalidInputError(f"a label must be an instance's JSON text, got {type(label).__name__}")


class Environments:
    """Environments by name, made on first use and kept until ``close``. ``sources`` maps a name to
    the environment file to make it from (sandboxed, with ``sandbox_workers`` workers) where the
    name alone does not find it. Safe to share between threads (verl calls reward functions from
    a thread pool)."""

    def __init__(self, sources: Mapping[str, str | os.PathLike[str]] | None = None, *,
                 sandbox_workers: int = 1) -> None:  # fmt: skip
        self.sources = {name: os.fspath(path) for name, path in (sources or {}).items()}
        self.sandbox_workers = sandbox_workers
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Any:
        """The environment called ``name``; one that cannot be made is an ``InvalidInputError``."""
        env = self._made.get(name)
        if env is None:
            with self._lock:
                env = self._made.get(name)
                if env is None:
                    env = self._made[name] = self._make(name)
        return env

    def _make(self, name: str) -> Any:
        source = self.sources.get(name)
        if source is None:
            if looks_like_path(name):
                raise InvalidInputError(f"an instance names its environment '{name}', which is not a name")
            return make(name)
        env = make(source, workers=self.sandbox_workers) if looks_like_path(source) else make(source)
        if env.name != name:
            if hasattr(env, "close"):
                env.close()
            raise InvalidInputError(f"'{source}' defines the environment '{env.name}', not '{name}'")
        return env

    def score(self, instance: Instance, response: Any) -> Verdict:
        """``score`` of the instance's environment; never raises for anything in ``response``."""
        return self.get(instance.env).score(instance, response)

    def score_many(self, instances: Sequence[Instance], responses: Sequence[Any]) -> list[Verdict]:
        """Verdicts in order; one ``score_many`` per environment (a sandbox round trip each)."""
        if len(instances) != len(responses):
            raise InvalidInputError(f"got {len(instances)} instances but {len(responses)} responses")
        verdicts: list[Verdict | None] = [None] * len(instances)
        for name, indices in _by_environment(instances).items():
            scored = self.get(name).score_many([instances[i] for i in indices], [responses[i] for i in indices])
            for index, verdict in zip(indices, scored, strict=True):
                verdicts[index] = verdict
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        """Stop every sandboxed environment's workers."""
        with self._lock:
            made, self._made = self._made, {}
        for env in made.values():
            if hasattr(env, "close"):
                env.close()

    def __enter__(self) -> Environments:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _by_environment(instances: Sequence[Instance]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, instance in enumerate(instances):
        groups.setdefault(instance.env, []).append(index)
    return groups


def score_chunk(job: tuple[list[Instance], list[Any]], sources: Mapping[str, str] | None = None) -> list[Verdict]:
    """One task of ``score_pairs``: one environment's pairs, scored where this runs."""
    instances, responses = job
    with Environments(sources) as environments:
        return environments.score_many(instances, responses)


def score_pairs(instances: Sequence[Instance | Mapping[str, Any] | str], responses: Sequence[Any], *,
                executor: Any = None, sources: Mapping[str, str] | None = None, chunk: int = CHUNK,
                progress: bool = True) -> list[Verdict]:  # fmt: skip
    """Verdicts for many (instance, response) pairs, in order, scored on ``executor`` (an
    ``envfoundry.executor`` executor; None: this process). Instances may be ``Instance`` objects,
    their dicts or their JSON; ``sources`` as for ``Environments``. The verdicts are the ones each
    environment's own ``score`` gives, wherever the chunks ran."""
    from envfoundry.executor import LocalExecutor

    if len(instances) != len(responses):
        raise InvalidInputError(f"got {len(instances)} instances but {len(responses)} responses")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise InvalidInputError(f"chunk must be a positive integer, got {chunk!r}")
    parsed = [parse_instance(instance) for instance in instances]
    jobs, places = [], []
    for indices in _by_environment(parsed).values():
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            jobs.append(([parsed[i] for i in part], [responses[i] for i in part]))
            places.append(part)
    executor = executor if executor is not None else LocalExecutor(workers=1)
    task = functools.partial(score_chunk, sources=dict(sources or {}))
    verdicts: list[Verdict | None] = [None] * len(parsed)
    for part, scored in zip(places, executor.map(task, jobs, desc="scoring", progress=progress), strict=True):
        for index, verdict in zip(part, scored, strict=True):
            verdicts[index] = verdict
    return verdicts  # type: ignore[return-value]
