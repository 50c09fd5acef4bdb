"""Parameter spaces: named, typed, bounded dimensions with a direction of difficulty.

Every environment declares ``space = {"name": IntParam(...), ...}``. A space maps a scalar
``level`` in [0, 1] monotonically onto every dimension (0 is the easiest corner, 1 the hardest),
validates explicit parameters, and describes itself as JSON Schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from envfoundry.errors import InvalidInputError

HARDER = ("up", "down")
SCALES = ("linear", "log")


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or math.isnan(level):
        raise InvalidInputError(f"level must be a number in [0, 1], got {level!r}")
    if not 0.0 <= level <= 1.0:
        raise InvalidInputError(f"level must be in [0, 1], got {level}")
    return float(level)


@dataclass(frozen=True)
class Param:
    """Base class of one dimension of a parameter space."""

    description: str = field(default="", kw_only=True)

    def at_level(self, level: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self, name: str, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse(self, name: str, text: str) -> Any:  # pragma: no cover - abstract
        """Parse a value given as text (for the command line), then validate it."""
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The dimension as plain JSON; ``param_from_spec`` rebuilds it (e.g. in another process)."""
        kind = {IntParam: "int", FloatParam: "float", ChoiceParam: "choice"}[type(self)]
        out = {"kind": kind, **{f.name: getattr(self, f.name) for f in fields(self)}}
        if kind == "choice":
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class _NumericParam(Param):
    low: float
    high: float
    harder: str = "up"
    scale: str = "linear"

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise InvalidInputError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.harder not in HARDER:
            raise InvalidInputError(f"harder must be one of {HARDER}, got {self.harder!r}")
        if self.scale not in SCALES:
            raise InvalidInputError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.scale == "log" and self.low <= 0:
            raise InvalidInputError("a log-scaled parameter needs low > 0")

    def _fraction_to_value(self, fraction: float) -> float:
        if self.scale == "log":
            return math.exp(math.log(self.low) + fraction * (math.log(self.high) - math.log(self.low)))
        return self.low + fraction * (self.high - self.low)

    def _fraction(self, level: float) -> float:
        level = _check_level(level)
        return level if self.harder == "up" else 1.0 - level

    def _schema(self, json_type: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": json_type,
            "minimum": self.low,
            "maximum": self.high,
            "x-harder": self.harder,
            "x-scale": self.scale,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class IntParam(_NumericParam):
    """An integer dimension in [low, high]; ``harder="up"`` means larger values are harder."""

    low: int
    high: int

    def at_level(self, level: float) -> int:
        # Half up, not Python's half-to-even, so equal level steps give even parameter steps.
        value = math.floor(self._fraction_to_value(self._fraction(level)) + 0.5)
        return int(min(max(value, self.low), self.high))

    def validate(self, name: str, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"parameter '{name}' must be an integer, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidInputError(f"parameter '{name}' must be in [{self.low}, {self.high}], got {value}")
        return value

    def parse(self, name: str, text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise InvalidInputError(f"parameter '{name}' must be an integer, got {text!r}") from None
        return self.validate(name, value)

    def schema(self) -> dict[str, Any]:
        return self._schema("integer")


@dataclass(frozen=True)
class FloatParam(_NumericParam):
    """A real dimension in [low, high]; ``harder="up"`` means larger values are harder."""

    def at_level(self, level: float) -> float:
        value = self._fraction_to_value(self._fraction(level))
        # Rounding keeps parameters readable in prompts, logs and JSON.
        return float(min(max(round(value, 6), self.low), self.high))

    def validate(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise InvalidInputError(f"parameter '{name}' must be a number, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidInputError(f"parameter '{name}' must be in [{self.low}, {self.high}], got {value}")
        return float(value)

    def parse(self, name: str, text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise InvalidInputError(f"parameter '{name}' must be a number, got {text!r}") from None
        return self.validate(name, value)

    def schema(self) -> dict[str, Any]:
        return self._schema("number")


@dataclass(frozen=True)
class ChoiceParam(Param):
    """A categorical dimension; ``choices`` are listed easiest first.

    Levels split [0, 1] into equal bins, one per choice: with four choices, levels in [0.75, 1]
    give the last one. Choices should be JSON scalars (str, int, float, bool).
    """

    choices: Sequence[Any]

    def __post_init__(self) -> None:
        if len(self.choices) == 0:
            raise InvalidInputError("a ChoiceParam needs at least one choice")
        object.__setattr__(self, "choices", tuple(self.choices))

    def at_level(self, level: float) -> Any:
        level = _check_level(level)
        index = min(int(level * len(self.choices)), len(self.choices) - 1)
        return self.choices[index]

    def validate(self, name: str, value: Any) -> Any:
        for choice in self.choices:
            if value == choice and type(value) is type(choice):
                return choice
        raise InvalidInputError(f"parameter '{name}' must be one of {list(self.choices)}, got {value!r}")

    def parse(self, name: str, text: str) -> Any:
        for choice in self.choices:
            if str(choice) == text.strip():
                return choice
        raise InvalidInputError(f"parameter '{name}' must be one of {list(self.choices)}, got {text!r}")

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"enum": list(self.choices), "x-harder": "later choices"}
        if self.description:
            out["description"] = self.description
        return out


_SPEC_KINDS = {"int": ("low", "high", "harder", "scale"), "float": ("low", "high", "harder", "scale"), "choice": ("choices",)}


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def param_from_spec(name: str, spec: Any) -> Param:
    """Rebuild a dimension from ``Param.to_spec()`` output, validating every field.

    The spec may come from untrusted code (a sandboxed environment), so anything unexpected is a
    clear ``ValueError`` rather than a surprise later.
    """
    if not isinstance(spec, Mapping) or spec.get("kind") not in _SPEC_KINDS:
        raise InvalidInputError(f"parameter '{name}': spec must be an object with kind int, float or choice")
    kind = spec["kind"]
    unknown = set(spec) - {"kind", "description", *_SPEC_KINDS[kind]}
    if unknown:
        raise InvalidInputError(f"parameter '{name}': unknown spec field(s) {sorted(unknown)}")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise InvalidInputError(f"parameter '{name}': description must be a string")
    try:
        if kind == "choice":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not all(_is_json_scalar(choice) for choice in choices):
                raise InvalidInputError("choices must be a list of strings, numbers or booleans")
            return ChoiceParam(choices, description=description)
        low, high = spec.get("low"), spec.get("high")
        numbers = (int,) if kind == "int" else (int, float)
        for bound in (low, high):
            if isinstance(bound, bool) or not isinstance(bound, numbers) or not math.isfinite(bound):
                raise InvalidInputError(f"low and high must be finite {'integers' if kind == 'int' else 'numbers'}")
        cls = IntParam if kind == "int" else FloatParam
        return cls(low, high, harder=spec.get("harder", "up"), scale=spec.get("scale", "linear"), description=description)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"parameter '{name}': {exc}") from None


class ParamSpace(Mapping[str, Param]):
    """An ordered mapping of names to dimensions, with level mapping and validation."""

    def __init__(self, params: Mapping[str, Param], owner: str = "environment") -> None:
        for name, param in params.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise InvalidInputError(f"{owner}: parameter name {name!r} is not a valid identifier")
            if not isinstance(param, Param):
                raise InvalidInputError(
                    f"{owner}: parameter '{name}' must be an IntParam, FloatParam or ChoiceParam, "
                    f"got {type(param).__name__}"
                )
        self._params = dict(params)
        self._owner = owner

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def at_level(self, level: float) -> dict[str, Any]:
        """The parameters at a scalar level in [0, 1] (0 easiest, 1 hardest)."""
        return {name: param.at_level(level) for name, param in self._params.items()}

    def resolve(self, level: float | None = None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Full, validated parameters: explicit ``params`` win, the rest come from ``level`` (default 0.5)."""
        params = params or {}
        for name in params:
            if name not in self._params:
                known = ", ".join(self._params) or "none"
                raise InvalidInputError(f"unknown parameter '{name}' for {self._owner} (known: {known})")
        level = 0.5 if level is None else level
        _check_level(level)  # checked even when every dimension is given, so bad input never passes silently
        return {
            name: param.validate(name, params[name]) if name in params else param.at_level(level)
            for name, param in self._params.items()
        }

    def parse(self, assignments: Sequence[str]) -> dict[str, Any]:
        """Parse ``["k=v", ...]`` command-line assignments into validated parameters."""
        out: dict[str, Any] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep or not name:
                raise InvalidInputError(f"parameter assignment must look like name=value, got {item!r}")
            if name not in self._params:
                known = ", ".join(self._params) or "none"
                raise InvalidInputError(f"unknown parameter '{name}' for {self._owner} (known: {known})")
            out[name] = self._params[name].parse(name, text)
        return out

    def to_spec(self) -> dict[str, dict[str, Any]]:
        """Every dimension as plain JSON, in order; ``ParamSpace.from_spec`` rebuilds the space."""
        return {name: param.to_spec() for name, param in self._params.items()}

    @classmethod
    def from_spec(cls, spec: Any, owner: str = "environment") -> ParamSpace:
        if not isinstance(spec, Mapping):
            raise InvalidInputError(f"{owner}: a parameter space spec must be a JSON object")
        return cls({name: param_from_spec(name, value) for name, value in spec.items()}, owner=owner)

    def json_schema(self) -> dict[str, Any]:
        """The space as a JSON Schema object (draft 2020-12), with ``x-harder`` per dimension."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{self._owner} parameters",
            "type": "object",
            "properties": {name: param.schema() for name, param in self._params.items()},
            "additionalProperties": False,
        }
