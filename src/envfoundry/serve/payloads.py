"""Reading request bodies: JSON objects whose fields are checked by hand, each failure one sentence
(``InvalidInputError``, answered 400) that names the field.

Bodies are parsed with orjson and checked here rather than through pydantic models: a score request
carries thousands of labels, and this is the hot path (see benchmarks/serve_load.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from envfoundry.core.environment import Instance
from envfoundry.errors import InvalidInputError


def parse_object(body: bytes, known: Iterable[str] | None = None) -> dict[str, Any]:
    """The body as a JSON object; with ``known``, any other field is refused (a typo should not pass
    silently)."""
    if not body:
        raise InvalidInputError("the request body is empty; send a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the request body is not valid JSON: {str(exc).split(':')[0]}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"the request body must be a JSON object, got {kind_of(data)}")
    if known is not None:
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidInputError(f"unknown field '{unknown[0]}' (this endpoint takes {', '.join(sorted(known))})")
    return data


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)  # fmt: skip


def string_list(data: Mapping[str, Any], name: str, max_items: int, *, required: bool = True,
                allow_empty: bool = False) -> list[str] | None:  # fmt: skip
    """A list of strings, at most ``max_items`` long."""
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInputError(f"'{name}' is required: a list of strings")
        return None
    return strings(value, name, max_items, allow_empty)


def strings(value: Any, name: str, max_items: int, allow_empty: bool = False) -> list[str]:
    """``value`` as a list of strings (``name`` says where it was, in messages)."""
    items = sequence(value, name, max_items, allow_empty)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInputError(f"'{name}[{index}]' must be a string, got {kind_of(item)}")
    return items


def sequence(value: Any, name: str, max_items: int, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInputError(f"'{name}' must be a list, got {kind_of(value)}")
    if not value and not allow_empty:
        raise InvalidInputError(f"'{name}' is empty; send at least one item")
    if len(value) > max_items:
        raise InvalidInputError(f"'{name}' has {len(value):,} items, more than this server's limit of "
                                f"{max_items:,} per request; split the batch")  # fmt: skip
    return value


def object_list(data: Mapping[str, Any], name: str, max_items: int) -> list[dict[str, Any]]:
    items = sequence(data.get(name), name, max_items) if name in data else None
    if items is None:
        raise InvalidInputError(f"'{name}' is required: a list of objects")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInputError(f"'{name}[{index}]' must be an object, got {kind_of(item)}")
    return items


def integer(data: Mapping[str, Any], name: str, default: int | None = None, *, low: int | None = None,
            high: int | None = None) -> int | None:  # fmt: skip
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"'{name}' must be an integer, got {kind_of(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(f"'{name}' must be in {low if low is not None else '-inf'}.."
                                f"{high if high is not None else 'inf'}, got {value}")  # fmt: skip
    return value


def integer_list(data: Mapping[str, Any], name: str, max_items: int) -> list[int] | None:
    value = data.get(name)
    if value is None:
        return None
    items = sequence(value, name, max_items)
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidInputError(f"'{name}[{index}]' must be an integer, got {kind_of(item)}")
    return items


def number(data: Mapping[str, Any], name: str) -> float | None:
    """A finite number, or None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"'{name}' must be a number, got {kind_of(value)}")
    return float(value)


def number_list(value: Any, name: str, max_items: int) -> list[float]:
    items = sequence(value, name, max_items)
    for index, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise InvalidInputError(f"'{name}[{index}]' must be a finite number, got {kind_of(item)}")
    return [float(item) for item in items]


def boolean(data: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInputError(f"'{name}' must be true or false, got {kind_of(value)}")
    return value


def string(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise InvalidInputError(f"'{name}' is required: a string" if value is None else
                                f"'{name}' must be a string, got {kind_of(value)}")  # fmt: skip
    return value


def mapping(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidInputError(f"'{name}' must be an object, got {kind_of(value)}")
    return value


def instance_from_label(label: Any, where: str) -> Instance:
    """The instance a label carries (``Instance.to_json()``, or the same as a JSON object); any other
    value is one sentence that names ``where`` it was."""
    if isinstance(label, str):
        try:
            label = orjson.loads(label)
        except orjson.JSONDecodeError:
            raise InvalidInputError(f"{where} is not an envfoundry label (the JSON of an instance, as /sample "
                                    "gives it)") from None  # fmt: skip
    if not isinstance(label, dict):
        raise InvalidInputError(f"{where} must be an instance (a JSON object or its text), got {kind_of(label)}")
    try:
        instance = Instance.from_dict(label)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{where} is not a valid instance: {exc}") from None
    if not isinstance(instance.env, str) or not isinstance(instance.prompt, str):
        raise InvalidInputError(f"{where} is not a valid instance: 'env' and 'prompt' must be strings")
    if isinstance(instance.version, bool) or not isinstance(instance.version, int):
        raise InvalidInputError(f"{where} is not a valid instance: 'version' must be an integer")
    return instance
