"""The contract every environment meets: ``Environment``, ``Instance``, ``Verdict``.

Authors subclass ``Environment`` and write four methods (``generate``, ``prompt``, ``reference``,
``verify``); consumers call ``sample`` and ``score``. Everything an instance carries is plain JSON,
so instances can be exported, shipped to another process and scored there.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from envfoundry.core.answer import extract_answer
from envfoundry.core.params import Param, ParamSpace
from envfoundry.errors import ContractError, InvalidInputError

ASYMMETRIES = ("algorithmic", "planted")
# How many answers can be right: "unique" (near-misses of the reference must fail) or "many"
# (the verifier checks constraints). Undeclared: "many" for planted environments, else "unique".
ANSWER_KINDS = ("unique", "many")
AUTHOR_METHODS = ("generate", "prompt", "reference", "verify")
# A verifier never needs more than this to judge an answer; longer ones are rejected unread.
MAX_ANSWER_CHARS = 200_000
# A lowercase identifier; an adapter namespaces the environments it wraps ("rg:chain_sum").
_NAME_RE = re.compile(r"(?:[a-z][a-z0-9]{0,15}:)?[a-z][a-z0-9_]{0,63}")
CORRECT_EPS = 1e-9
# Why an answer failed (``Verdict.failure``): the contract's own classes; an environment may add
# its own (MAPF-FrozenLake: ``illegal_move``, ``agent_conflict``, ...), lowercase identifiers.
UNPARSEABLE = "unparseable"  # no answer block, or an answer the verifier cannot read
WRONG = "wrong"  # read, but not (fully) right: the default class of a wrong answer
VERIFIER_ERROR = "verifier_error"  # the verifier raised or returned nonsense: no judgement of the answer
_FAILURE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Older spellings in ``metadata["failure"]`` (written before the contract had the field).
_FAILURE_ALIASES = {"parse_error": UNPARSEABLE, "none": None, "": None}


@dataclass
class Instance:
    """One sampled task: plain JSON, scorable later in any process.

    ``state`` is what ``generate`` returned; ``verify`` reads it. ``level`` is None when the
    instance was sampled from explicit parameters only.
    """

    env: str
    version: int
    seed: int
    params: dict[str, Any]
    prompt: str
    reference: str
    state: dict[str, Any]
    level: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instance:
        """Rebuild an instance from ``to_dict()`` output; a missing field is a clear ``ValueError``."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"an instance must be a JSON object, got {type(data).__name__}")
        required = ("env", "version", "seed", "params", "prompt", "reference", "state")
        missing = [key for key in required if key not in data]
        if missing:
            raise InvalidInputError(f"instance is missing field(s): {', '.join(missing)}")
        return cls(
            env=data["env"],
            version=data["version"],
            seed=data["seed"],
            params=dict(data["params"]),
            prompt=data["prompt"],
            reference=data["reference"],
            state=dict(data["state"]),
            level=data.get("level"),
            metadata=dict(data.get("metadata") or {}),
        )

    @classmethod
    def from_json(cls, text: str) -> Instance:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"instance is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_dict(data)


def coerce_instance(instance: Instance | Mapping[str, Any], env_name: str) -> Instance:
    """``instance`` as an ``Instance`` of environment ``env_name``; anything else is a ``ValueError``."""
    if not isinstance(instance, Instance):
        instance = Instance.from_dict(instance)
    if instance.env != env_name:
        raise InvalidInputError(f"instance belongs to environment '{instance.env}', not '{env_name}'")
    return instance


def failure_class(correct: bool, format_ok: bool, failure: Any = None,
                  metadata: Mapping[str, Any] | None = None) -> str | None:  # fmt: skip
    """Why a verdict failed, as one class: None when it is correct; the class the environment gave
    (``failure``, else ``metadata["failure"]``, the convention from before the contract had the
    field) when it is a lowercase identifier; else ``"unparseable"`` without an answer block and
    ``"wrong"`` for an answer that was read and judged wrong."""
    if correct:
        return None
    for given in (failure, (metadata or {}).get("failure")):
        if isinstance(given, str) and given in _FAILURE_ALIASES:
            given = _FAILURE_ALIASES[given]
        if isinstance(given, str) and _FAILURE_RE.fullmatch(given):
            return given
    return WRONG if format_ok else UNPARSEABLE


@dataclass(frozen=True)
class Verdict:
    """The result of scoring one response.

    ``reward`` is in [0, 1]; ``correct`` means full reward; ``format_ok`` means an
    ``<answer>`` block was found (trainers may add a format reward on it); ``answer`` is the
    extracted text; ``metadata`` carries environment-specific detail. ``failure`` says why a
    verdict that is not correct failed, so runs can count failures by kind (``failure_class``):
    ``"unparseable"``, ``"wrong"``, ``"verifier_error"`` or the environment's own class (given by
    ``verify`` as ``Score.failure``); None for a correct answer. Left out, it is derived.
    """

    reward: float
    correct: bool
    format_ok: bool
    answer: str | None
    reason: str
    metadata: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "failure", failure_class(self.correct, self.format_ok, self.failure, self.metadata))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def answer_to_verify(text: Any, bare: bool) -> str | Verdict:
    """The answer ``verify`` should judge in a response (or, with ``bare``, in a bare answer), or
    the verdict when there is nothing to verify: not text, no answer block, or too long to read."""
    if not isinstance(text, str):
        return Verdict(0.0, False, False, None, f"{'answer' if bare else 'response'} must be a string, "
                       f"got {type(text).__name__}")  # fmt: skip
    answer = text.strip() if bare else extract_answer(text)
    if answer is None:
        return Verdict(0.0, False, False, None, "no <answer>...</answer> block in the response")
    if len(answer) > MAX_ANSWER_CHARS:
        return Verdict(0.0, False, True, answer[:200], f"answer longer than {MAX_ANSWER_CHARS} characters",
                       failure=UNPARSEABLE)  # fmt: skip
    return answer


@dataclass
class Score:
    """What ``verify`` may return instead of a bare number: a reward plus why, plus detail, plus
    (for an answer that is not fully right) the class of its failure, a lowercase identifier such
    as ``"unparseable"`` or an environment's own (``"illegal_move"``); without one a wrong answer
    is ``"wrong"``."""

    reward: float
    reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None


def contract_errors(cls: Any) -> list[str]:
    """Every way ``cls`` breaks the authoring contract, as sentences (empty if it complies)."""
    if not (isinstance(cls, type) and issubclass(cls, Environment)):
        return [f"{cls!r} is not a subclass of envfoundry.Environment"]
    label = cls.__name__
    errors = []
    name = cls.__dict__.get("name", getattr(cls, "name", None))
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        errors.append(
            f"{label}.name must be a lowercase identifier like 'planted_subset_sum' (an adapter may "
            f"prefix a namespace: 'rg:chain_sum'), got {name!r}"
        )
    if getattr(cls, "asymmetry", None) not in ASYMMETRIES:
        errors.append(f"{label}.asymmetry must be 'algorithmic' or 'planted', got {getattr(cls, 'asymmetry', None)!r}")
    if getattr(cls, "answers", "") not in ("", *ANSWER_KINDS):
        errors.append(
            f"{label}.answers must be 'unique' or 'many' (or left out), got {getattr(cls, 'answers', None)!r}"
        )
    space = getattr(cls, "space", None)
    if not isinstance(space, Mapping):
        errors.append(f"{label}.space must be a dict of parameter names to IntParam/FloatParam/ChoiceParam")
    else:
        try:
            ParamSpace(space, owner=label)
        except ValueError as exc:
            errors.append(str(exc))
    if not (cls.__doc__ or "").strip():
        errors.append(f"{label} needs a docstring: it is the environment's description")
    for method in AUTHOR_METHODS:
        if getattr(cls, method, None) is getattr(Environment, method):
            errors.append(f"{label} must define {method}()")
    if not isinstance(getattr(cls, "version", None), int):
        errors.append(f"{label}.version must be an integer")
    return errors


def answer_kind(env: Any) -> str:
    """``"unique"`` or ``"many"``: an environment's declared ``answers``, else what its asymmetry implies."""
    declared = getattr(env, "answers", "") or ""
    return (
        declared if declared in ANSWER_KINDS else ("many" if getattr(env, "asymmetry", "") == "planted" else "unique")
    )


def _seed_prefix(name: str, version: int, params: Mapping[str, Any]) -> str:
    # repr() of ints, floats, strings and bools is the same on every platform (json.dumps is slower).
    return f"{name}|{version}|" + "|".join(f"{key}={params[key]!r}" for key in sorted(params)) + "|"


_NEW_RANDOM = random.Random.__new__
_SEED_RANDOM = random.Random.__mro__[1].seed  # the C seeding, without random.Random.seed's Python wrapper


def _seed_rng(prefix: str, seed: int) -> random.Random:
    # A digest of the inputs, never hash(): hash() of a string changes between processes. The
    # generator is the one random.Random(that integer) makes, built without the Python-level
    # __init__ and seed (a fifth of the cost of a small instance's sampling).
    digest = hashlib.sha256(f"{prefix}{seed}".encode()).digest()
    rng = _NEW_RANDOM(random.Random)
    _SEED_RANDOM(rng, int.from_bytes(digest[:16], "big"))
    rng.gauss_next = None
    return rng


class Environment:
    """Base class of every environment. Subclass it and define the class attributes and the
    four authoring methods; the docstring of the subclass is its description.

    Class attributes:
        name: registry name, a lowercase identifier (an adapter may prefix a namespace, ``rg:``).
        asymmetry: ``"algorithmic"`` (hard to reason through, easy as code) or ``"planted"``
            (hard to solve, easy to verify).
        space: ``{name: IntParam | FloatParam | ChoiceParam}``.
        version: bump when the same seed and parameters would give a different instance.
        family: optional free-text family, e.g. ``"graphs"``, ``"constraint"``, ``"spatial"``.
        seed_name: optional; the name instance draws are keyed on, where it is not ``name``: an
            environment renamed without ``version`` bump keeps drawing the same instances.
        answers: optional; ``"unique"`` when one answer is right (the check battery then requires
            near-misses of the reference to fail) or ``"many"`` when the verifier checks
            constraints and other answers may be right too (covers, colourings, schedules: the
            battery then probes with answers known to be wrong). Left out, it is ``"many"`` for a
            planted environment and ``"unique"`` for an algorithmic one (``answer_kind``).
    """

    name: ClassVar[str] = ""
    asymmetry: ClassVar[str] = ""
    space: ClassVar[dict[str, Param]] = {}
    version: ClassVar[int] = 1
    family: ClassVar[str] = ""
    seed_name: ClassVar[str] = ""
    answers: ClassVar[str] = ""

    def __init__(self) -> None:
        errors = contract_errors(type(self))
        if errors:
            raise ContractError("; ".join(errors))
        self.parameter_space = ParamSpace(self.space, owner=f"environment '{self.name}'")
        self._resolve_cache: dict[tuple, tuple[dict[str, Any], str]] = {}

    # ----- the authoring contract -------------------------------------------------------------
    def generate(self, rng: random.Random, **params: Any) -> dict[str, Any]:
        """Build the JSON-serialisable state of one instance, using only ``rng`` for randomness."""
        raise NotImplementedError

    def prompt(self, state: dict[str, Any]) -> str:
        """The task text; it must say to answer inside <answer></answer>."""
        raise NotImplementedError

    def reference(self, state: dict[str, Any]) -> str:
        """A correct answer (the text that would go inside the answer tags)."""
        raise NotImplementedError

    def verify(self, state: dict[str, Any], answer: str) -> float | bool | Score:
        """Reward in [0, 1] for the extracted answer; check constraints where many answers are right."""
        raise NotImplementedError

    # ----- optional hooks ---------------------------------------------------------------------
    def complexity(self, state: dict[str, Any]) -> float:
        """A measure of instance size or search space that grows with difficulty.

        The default is the prompt length; environments override it with something truer
        (cells, variables, log2 of the search space, ...).
        """
        return float(len(self.prompt(state)))

    def metadata(self, state: dict[str, Any]) -> dict[str, Any]:
        """Extra JSON facts about an instance, recorded in ``Instance.metadata``."""
        return {}

    def worked_solution(self, state: dict[str, Any]) -> str | None:
        """Short reasoning that leads to the reference (without the answer block), or None.

        The format warm-up (``envfoundry warmup``) teaches a model to write it before the answer
        block; keep it to the few steps a small model can imitate.
        """
        return None

    # ----- the consumer contract --------------------------------------------------------------
    @property
    def description(self) -> str:
        return inspect.cleandoc(type(self).__doc__ or "")

    def sample(
        self,
        seed: int,
        level: float | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Instance:
        """One instance, a pure function of (environment, version, seed, parameters).

        ``level`` in [0, 1] sets every dimension (default 0.5); ``params`` overrides dimensions.
        """
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an integer, got {seed!r}")
        resolved, prefix = self._resolve(level, params)
        rng = _seed_rng(prefix, seed)
        state = self.generate(rng, **resolved)
        if not isinstance(state, dict):
            raise ContractError(f"{self.name}.generate must return a dict, got {type(state).__name__}")
        prompt = self.prompt(state)
        reference = self.reference(state)
        if not isinstance(prompt, str) or not isinstance(reference, str):
            raise ContractError(f"{self.name}.prompt and .reference must return strings")
        metadata = {"complexity": float(self.complexity(state))}
        metadata.update(self.metadata(state))
        return Instance(
            env=self.name,
            version=self.version,
            seed=seed,
            params=resolved,
            prompt=prompt,
            reference=reference,
            state=state,
            level=None if level is None else float(level),
            metadata=metadata,
        )

    def sample_many(
        self, seeds: Sequence[int], level: float | None = None, params: Mapping[str, Any] | None = None
    ) -> list[Instance]:
        """Instances for many seeds (a sandboxed environment serves these in one round trip)."""
        return [self.sample(seed, level=level, params=params) for seed in seeds]

    def score_many(self, instances: Sequence[Instance | Mapping[str, Any]], responses: Sequence[str]) -> list[Verdict]:
        """Verdicts for many responses, one per instance."""
        if len(instances) != len(responses):
            raise InvalidInputError(f"got {len(instances)} instances but {len(responses)} responses")
        return [self.score(instance, response) for instance, response in zip(instances, responses, strict=True)]

    def time_samples(self, seeds: Sequence[int], level: float | None = None,
                     params: Mapping[str, Any] | None = None) -> list[float]:  # fmt: skip
        """Seconds each sample took (measured where the environment's code runs)."""
        times = []
        for seed in seeds:
            start = time.perf_counter()
            self.sample(seed, level=level, params=params)
            times.append(time.perf_counter() - start)
        return times

    def _resolve(self, level: float | None, params: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
        """Validated parameters and the seed prefix, memoised: training samples the same few
        settings millions of times. Types are part of the key, so ``True`` never hits ``1``."""
        try:
            key = (type(level), level, tuple((k, type(v), v) for k, v in (params or {}).items()))
            hit = self._resolve_cache.get(key)
        except TypeError:  # an unhashable value: validation will reject it with a clear message
            key, hit = None, None
        if hit is None:
            resolved = self.parameter_space.resolve(level, params)
            hit = (resolved, _seed_prefix(self.seed_name or self.name, self.version, resolved))
            if key is not None and len(self._resolve_cache) < 4096:
                self._resolve_cache[key] = hit
        return dict(hit[0]), hit[1]

    def score(self, instance: Instance | Mapping[str, Any], response: str) -> Verdict:
        """Score a full model response: extract the last <answer> block, then verify it.

        Never raises for anything the response or ``verify`` does; a mismatched instance is a
        ``ValueError`` because it is the caller's mistake.
        """
        instance = self._coerce(instance)
        answer = answer_to_verify(response, bare=False)
        return answer if isinstance(answer, Verdict) else self._verify(instance, answer)

    def score_answer(self, instance: Instance | Mapping[str, Any], answer: str) -> Verdict:
        """Score a bare answer (the text that would sit inside the answer tags)."""
        instance = self._coerce(instance)
        answer = answer_to_verify(answer, bare=True)
        return answer if isinstance(answer, Verdict) else self._verify(instance, answer)

    def _coerce(self, instance: Instance | Mapping[str, Any]) -> Instance:
        return coerce_instance(instance, self.name)

    def _verify(self, instance: Instance, answer: str) -> Verdict:
        """Verify an answer that ``answer_to_verify`` let through."""
        try:
            result = self.verify(instance.state, answer)
        except Exception as exc:  # noqa: BLE001 - a verifier bug must never reach the trainer
            return Verdict(0.0, False, True, answer, f"verify raised {type(exc).__name__}: {exc}",
                           failure=VERIFIER_ERROR)  # fmt: skip
        reason, metadata, failure = "", {}, None
        if isinstance(result, Score):
            reason, metadata, failure, result = result.reason, dict(result.metadata), result.failure, result.reward
        if isinstance(result, bool):
            reward = 1.0 if result else 0.0
        elif isinstance(result, (int, float)):
            reward = float(result)
        else:
            return Verdict(0.0, False, True, answer, f"verify returned {type(result).__name__}, expected a number",
                           failure=VERIFIER_ERROR)  # fmt: skip
        if math.isnan(reward) or not 0.0 <= reward <= 1.0:
            return Verdict(0.0, False, True, answer, f"verify returned reward {reward} outside [0, 1]", metadata,
                           VERIFIER_ERROR)  # fmt: skip
        correct = reward >= 1.0 - CORRECT_EPS
        if not reason:
            reason = "correct" if correct else ("partially correct" if reward > 0 else "incorrect")
        if not correct and isinstance(failure, str) and _FAILURE_RE.fullmatch(failure):
            # Also in the metadata: a sandbox worker sends the metadata back, and the class with it.
            metadata.setdefault("failure", failure)
        return Verdict(reward, correct, True, answer, reason, metadata, failure)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} version={self.version}>"
