"""Reading a run's JSON and JSON Lines files: a file the report cannot do without is one clear
error; a line a killed run left half-written is skipped, with a note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError


def read_json(path: Path) -> Any:
    """The JSON in ``path``; unreadable or not JSON: ``InvalidInputError`` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"'{path}' is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def read_json_object(path: Path, notes: list[str]) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None with a note when it is missing or not an object."""
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except InvalidInputError as exc:
        notes.append(str(exc))
        return None
    if not isinstance(data, dict):
        notes.append(f"'{path}' holds {type(data).__name__}, not a JSON object: left out")
        return None
    return data


def read_jsonl(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file (none if it is missing); bad lines are skipped with a note."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        notes.append(f"cannot read '{path}': {getattr(exc, 'strerror', None) or exc}")
        return []
    records, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    if bad:
        notes.append(f"'{path}': {bad} line(s) were not JSON objects (a run killed mid-write?) and were skipped")
    return records


def number(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def rates(value: Any) -> dict[str, dict[str, float]]:
    """``{env: {level: rate}}`` with every non-number dropped (a malformed file draws less, never fails)."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, dict[str, float]] = {}
    for env, curve in value.items():
        if isinstance(curve, dict):
            cells = {str(level): number(rate) for level, rate in curve.items()}
            found[str(env)] = {level: rate for level, rate in cells.items() if rate is not None}
    return {env: curve for env, curve in found.items() if curve}
