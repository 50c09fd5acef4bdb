"""Lines of JSON between host and worker: orjson where it is exact, the standard library otherwise.

JSON encoding and decoding is most of what the sandbox costs, and orjson is several times faster
than ``json``. It is not exact everywhere: integers beyond 64 bits make it fail to encode (and
decode as floats), and NaN or infinity encode as null. And under a memory limit orjson crashes
on large outputs (it reserves about 1 GiB of address space). So every line starts with one byte
naming its codec: ``o`` for orjson, ``j`` for the standard library, chosen by the writer. A value
orjson cannot encode, or one whose orjson encoding contains null (which might be a NaN), goes
through the standard library with ``allow_nan=False``, so non-JSON values are rejected instead of
altered. Workers write with the standard library only and read with orjson (reading is safe).
"""

from __future__ import annotations

import json
from typing import Any

from envfoundry.errors import InvalidInputError

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the fallback keeps a worker alive
    orjson = None  # type: ignore[assignment]

_OPTIONS = orjson.OPT_NON_STR_KEYS if orjson is not None else 0


def encode(value: Any, fast: bool = True) -> bytes:
    """One line (with its newline) holding ``value``; ``TypeError``/``ValueError`` if not JSON.

    ``fast=False`` uses only the standard library: sandbox workers write that way, because orjson
    reserves about 1 GiB of address space for large outputs and crashes (instead of raising
    ``MemoryError``) under a worker's memory limit.
    """
    if fast and orjson is not None:
        try:
            data = orjson.dumps(value, option=_OPTIONS)
        except TypeError as exc:
            if "recursion" in str(exc).lower():
                raise InvalidInputError("the value is nested too deeply") from None
        else:
            if b"null" not in data:
                return b"o" + data + b"\n"
    return b"j" + json.dumps(value, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def decode(line: bytes) -> Any:
    """The value of a line written by ``encode`` (without its newline); ``ValueError`` if malformed."""
    try:
        if line[:1] == b"o" and orjson is not None:
            return orjson.loads(line[1:])
        if line[:1] in (b"o", b"j"):
            return json.loads(line[1:])
    except RecursionError:
        raise InvalidInputError("the value is nested too deeply") from None
    raise InvalidInputError("a protocol line must start with its codec byte")
