"""``SandboxedEnvironment``: an environment whose code runs only in sandbox workers.

It has the consumer half of the ``Environment`` API (``sample``, ``score``, ``score_answer``,
``parameter_space``, ``name``, ...) plus batched ``sample_many`` / ``score_many``. Parameters are
validated and answers extracted on the host, so bad input fails the same way as in-process and a
response without an answer block never costs a round trip. Everything that comes back from a
worker is checked before it is trusted: an instance must be for this environment, seed and
parameters; a verdict must carry a reward in [0, 1].
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from envfoundry.core.environment import (
    ANSWER_KINDS,
    ASYMMETRIES,
    CORRECT_EPS,
    Instance,
    Verdict,
    answer_to_verify,
    coerce_instance,
)
from envfoundry.core.params import ParamSpace
from envfoundry.core.registry import read_source
from envfoundry.errors import EnvfoundryError, InvalidInputError
from envfoundry.sandbox.isolation import resolve_isolation
from envfoundry.sandbox.limits import SandboxLimits
from envfoundry.sandbox.pool import SandboxError, SandboxPool
from envfoundry.sandbox.static_check import describe_findings, static_check


class SandboxRejected(EnvfoundryError, ValueError):
    """The static pre-check rejected the environment's source before it ran."""


class SandboxCallError(SandboxError):
    """Some items of a batch failed; ``results`` holds every item's value or ``SandboxError``."""

    def __init__(self, message: str, results: list[Any]) -> None:
        super().__init__(message, "batch")
        self.results = results


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class SandboxedEnvironment:
    """An untrusted environment, run in a pool of isolated worker processes.

    Give a ``path`` to a module file (its source is read here and sent to the workers; the file
    itself is never mounted), the ``source`` text itself (``filename`` labels it in messages), or
    ``module`` for an environment module of this package.

    limits: ``SandboxLimits`` (defaults: 2 s per call, 1 GiB per worker).
    workers: worker processes (default: the number of cores, at most 4).
    isolation: ``"bubblewrap"``, or ``"process"`` to accept weaker isolation knowingly (it shares
        the host's files and network, and warns once). ``None`` or ``"auto"`` (the default) lets
        ``ENVFOUNDRY_SANDBOX`` decide, and means bubblewrap when it is unset. Where bubblewrap
        cannot run, bubblewrap isolation raises ``SandboxUnavailable`` with the fix: the sandbox
        never weakens on its own.
    static_check: reject obviously disallowed source (imports of os, socket, ...; eval, open, ...)
        before starting anything. Security never depends on it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        source: str | None = None,
        filename: str = "<source>",
        module: str | None = None,
        limits: SandboxLimits | None = None,
        workers: int | None = None,
        isolation: str | None = None,
        static_check: bool = True,
    ) -> None:
        if sum(x is not None for x in (path, source, module)) != 1:
            raise InvalidInputError("give exactly one of a path to an environment file, its source, or a module name")
        if limits is None:
            limits = SandboxLimits()
        elif not isinstance(limits, SandboxLimits):
            raise InvalidInputError(f"limits must be a SandboxLimits, got {type(limits).__name__}")
        if path is not None or source is not None:
            if path is not None:
                source, label = read_source(path), os.fspath(path)
            else:
                if not isinstance(source, str):
                    raise InvalidInputError(f"source must be text, got {type(source).__name__}")
                label = filename
            if static_check:
                _reject_if_flagged(source, label)
            load: dict[str, Any] = {"source": source, "filename": label}
        else:
            if not isinstance(module, str) or not module.startswith("envfoundry."):
                raise InvalidInputError(f"module must name an environment module of envfoundry, got {module!r}")
            label = module
            load = {"module": module}
        self.source_label = label
        self.isolation = resolve_isolation(isolation)
        self.limits = limits
        self._pool = SandboxPool(load, self.isolation, limits, default_workers() if workers is None else workers)
        try:
            self._adopt(self._pool.description)
        except ValueError as exc:
            self._pool.close()
            raise SandboxError(f"'{label}' described itself wrongly: {exc}", "protocol") from None

    def _adopt(self, description: Mapping[str, Any]) -> None:
        name, version = description.get("name"), description.get("version")
        if not isinstance(name, str) or not name:
            raise InvalidInputError("name must be a non-empty string")
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInputError("version must be an integer")
        if description.get("asymmetry") not in ASYMMETRIES:
            raise InvalidInputError("asymmetry must be 'algorithmic' or 'planted'")
        for key in ("family", "description"):
            if not isinstance(description.get(key), str):
                raise InvalidInputError(f"{key} must be a string")
        if description.get("answers", "") not in ("", *ANSWER_KINDS):
            raise InvalidInputError("answers must be 'unique' or 'many'")
        self.name: str = name
        self.version: int = version
        self.asymmetry: str = description["asymmetry"]
        self.answers: str = description.get("answers", "")
        self.family: str = description["family"]
        self.description: str = description["description"]
        self.parameter_space = ParamSpace.from_spec(description.get("space"), owner=f"environment '{name}'")
        self.space = dict(self.parameter_space)

    # ----- sampling -----------------------------------------------------------------------------
    def sample(self, seed: int, level: float | None = None, params: Mapping[str, Any] | None = None) -> Instance:
        """One instance, exactly as the environment would give it in-process; a failure in the
        sandbox raises ``SandboxError`` with the reason."""
        result = self.sample_many([seed], level=level, params=params, strict=False)[0]
        if isinstance(result, SandboxError):
            raise result
        return result

    def sample_many(
        self,
        seeds: Sequence[int],
        level: float | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        strict: bool = True,
    ) -> list[Any]:
        """Instances for many seeds in one round trip per worker.

        With ``strict`` (the default) any failed item raises ``SandboxCallError`` after the whole
        batch ran, carrying every item's result; otherwise failed items are ``SandboxError`` values
        in the returned list.
        """
        items = self._sample_items(seeds, level, params)
        results = self._pool.call("sample", items)
        out = [
            result if isinstance(result, SandboxError) else self._instance(result, *item)
            for result, item in zip(results, items, strict=True)
        ]
        return _finish(out, strict, "sample")

    def time_samples(self, seeds: Sequence[int], level: float | None = None,
                     params: Mapping[str, Any] | None = None) -> list[float]:  # fmt: skip
        """Seconds each sample took inside its worker (the round trip not included)."""
        out = []
        for result in self._pool.call("sample", self._sample_items(seeds, level, params)):
            if isinstance(result, SandboxError):
                raise result
            seconds = result.get("seconds") if isinstance(result, dict) else None
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise SandboxError("the sandbox returned a malformed timing", "protocol")
            out.append(float(seconds))
        return out

    def _sample_items(
        self, seeds: Sequence[int], level: float | None, params: Mapping[str, Any] | None
    ) -> list[list[Any]]:
        """``[seed, level, resolved parameters]`` per seed; caller mistakes fail here, as in-process."""
        resolved = self.parameter_space.resolve(level, params)
        level_value = None if level is None else float(level)
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise InvalidInputError(f"seed must be an integer, got {seed!r}")
        return [[seed, level_value, resolved] for seed in seeds]

    def _instance(self, data: Any, seed: int, level: float | None, resolved: dict[str, Any]) -> Any:
        try:
            prompt, reference, state, metadata = data["prompt"], data["reference"], data["state"], data["metadata"]
            if data["env"] != self.name or data["version"] != self.version:
                return SandboxError("the sandbox returned an instance of another environment", "protocol")
        except (TypeError, KeyError) as exc:
            return SandboxError(f"the sandbox returned a malformed instance (missing {exc})", "protocol")
        if not (isinstance(prompt, str) and isinstance(reference, str)
                and isinstance(state, dict) and isinstance(metadata, dict)):  # fmt: skip
            return SandboxError("the sandbox returned a malformed instance", "protocol")
        return Instance(self.name, self.version, seed, dict(resolved), prompt, reference, state, level, metadata)

    # ----- scoring ------------------------------------------------------------------------------
    def score(self, instance: Instance | Mapping[str, Any], response: str) -> Verdict:
        """Score a full response; never raises for anything the response or the sandbox does."""
        return self.score_many([instance], [response])[0]

    def score_answer(self, instance: Instance | Mapping[str, Any], answer: str) -> Verdict:
        """Score a bare answer (the text that would sit inside the answer tags)."""
        return self._score([instance], [answer], bare=True)[0]

    def score_many(self, instances: Sequence[Instance | Mapping[str, Any]], responses: Sequence[str]) -> list[Verdict]:
        """Score many responses in one round trip per worker. A failure in the sandbox gives that
        item reward 0 with ``reason`` starting "sandbox:" and ``metadata["sandbox_error"]``."""
        return self._score(instances, responses, bare=False)

    def _score(self, instances: Sequence[Any], texts: Sequence[str], bare: bool) -> list[Verdict]:
        if len(instances) != len(texts):
            raise InvalidInputError(f"got {len(instances)} instances but {len(texts)} responses")
        verdicts: list[Verdict | None] = [None] * len(texts)
        items, where = [], []
        for index, (instance, text) in enumerate(zip(instances, texts, strict=True)):
            instance = self._coerce(instance)
            answer = answer_to_verify(text, bare)
            if isinstance(answer, Verdict):
                verdicts[index] = answer
            else:
                items.append([instance.state, answer])
                where.append(index)
        results = self._pool.call("verify", items) if items else []
        for index, (_, answer), result in zip(where, items, results, strict=True):
            verdicts[index] = _verdict(result, answer)
        return verdicts  # type: ignore[return-value]

    def _coerce(self, instance: Instance | Mapping[str, Any]) -> Instance:
        return coerce_instance(instance, self.name)

    # ----- lifecycle ----------------------------------------------------------------------------
    @property
    def workers(self) -> int:
        return self._pool.workers

    @property
    def restarts(self) -> int:
        """Workers replaced so far (crashes, timeouts, recycling)."""
        return self._pool.restarts

    @property
    def cold_start_s(self) -> float:
        """Seconds it took to start every worker and load the environment."""
        return self._pool.cold_start_s

    def worker_pids(self) -> list[int]:
        return self._pool.worker_pids()

    def restart_workers(self) -> None:
        """Replace every worker with a fresh process (another hash seed, nothing cached)."""
        self._pool.restart()

    def close(self) -> None:
        """Stop every worker. Also happens when the object is garbage-collected or at exit."""
        self._pool.close()

    def __enter__(self) -> SandboxedEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<SandboxedEnvironment name={self.name!r} version={self.version} workers={self.workers} "
            f"isolation={self.isolation.kind!r}>"
        )


def _verdict(result: Any, answer: str) -> Verdict:
    if isinstance(result, SandboxError):
        return Verdict(0.0, False, True, answer, f"sandbox: {result}", {"sandbox_error": result.kind})
    try:
        reward, correct, reason, metadata = result["reward"], result["correct"], result["reason"], result["metadata"]
        valid = (
            isinstance(reward, (int, float))
            and not isinstance(reward, bool)
            and math.isfinite(reward)
            and 0.0 <= reward <= 1.0
            and isinstance(correct, bool)
            and correct == (reward >= 1.0 - CORRECT_EPS)
            and isinstance(reason, str)
            and isinstance(metadata, dict)
        )
    except (TypeError, KeyError):
        valid = False
    if not valid:
        return Verdict(0.0, False, True, answer, "sandbox: the worker returned a malformed verdict",
                       {"sandbox_error": "protocol"})  # fmt: skip
    return Verdict(float(reward), correct, True, answer, reason, metadata)


def _finish(results: list[Any], strict: bool, what: str) -> list[Any]:
    failed = [(i, r) for i, r in enumerate(results) if isinstance(r, SandboxError)]
    if strict and failed:
        index, first = failed[0]
        raise SandboxCallError(
            f"{len(failed)} of {len(results)} {what} calls failed in the sandbox; item {index}: {first}", results
        )
    return results


def _reject_if_flagged(source: str, label: str) -> None:
    findings = static_check(source, label)
    if findings:
        raise SandboxRejected(describe_findings(findings, label))
