"""The host-worker line codec: fast where exact, exact everywhere."""

from __future__ import annotations

import math

import pytest

from envfoundry.sandbox.codec import decode, encode


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "x", True, None]},
        {"big": 2**80, "neg": -(2**70)},
        {"text": "null and \u2603 and \n newlines"},
        [],
    ],
)
def test_values_round_trip_exactly(value):
    line = encode(value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode(line[:-1])
    assert back == value and type(back) is type(value)
    if isinstance(value, dict) and "big" in value:
        assert isinstance(back["big"], int)  # never silently a float


def test_integer_keys_become_strings_as_with_json():
    assert decode(encode({1: "a"})[:-1]) == {"1": "a"}


@pytest.mark.parametrize("value", [{"x": float("nan")}, {"x": math.inf}, {"x": {1, 2}}, {"x": object()}])
def test_values_that_are_not_json_are_refused_not_altered(value):
    with pytest.raises((TypeError, ValueError)):
        encode(value)


def test_lines_without_a_codec_byte_are_malformed():
    with pytest.raises(ValueError, match="codec byte"):
        decode(b'{"ok": 1}')
