"""What environments converted from programming problems run on (``envfoundry.convert`` writes them).

A converted environment shows a problem and a concrete input and asks for the output; the
reference comes from running the problem's reference solution on that input, inside the sandbox
that runs the environment. This module holds the parts every converted module shares, so a module
is the problem's own code plus a few constants:

* ``run_bounded``: call a program with a budget of executed lines (``sys.settrace``), so an input
  on which the solution loops, or works too long, is discarded the same way on every machine (a
  wall-clock limit would make the instances depend on the machine's speed);
* ``infer_spec`` / ``draw_input``: types and ranges read from the problem's own example inputs,
  and new inputs grown from those examples by type-aware mutation (as EvalPlus extended
  HumanEval's tests), with ``size`` bounding lengths and ``magnitude`` bounding numbers;
* ``literal`` / ``same_value``: the canonical text of an output and the comparison of an answer
  with it (floats at ``FLOAT_DIGITS`` significant digits; a list and a tuple of the same items are
  the same answer);
* ``run_stdio``: a stdin/stdout program run on a text input, with ``input``, ``print`` and
  ``sys.stdin`` / ``sys.stdout`` given to it (``envfoundry.convert.template`` rewrites them).
"""

from __future__ import annotations

import ast
import copy
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# Lines a reference solution may execute for one input; more and the input is discarded.
MAX_LINES = 200_000
# Floats are compared, and written in references, at this many significant digits.
FLOAT_DIGITS = 6
# Strings drawn where the examples give no alphabet.
DEFAULT_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
# Distinct words kept from the examples' strings.
MAX_WORDS = 200
# Answers longer than this are not parsed (a literal this long is never right here).
MAX_LITERAL_CHARS = 20_000


class ProgramFailed(Exception):
    """The program raised, ran past its line budget, or returned something that is not a value.

    ``kind`` is "raised", "too_slow" or "bad_output"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _OverBudget(BaseException):
    """Raised by the tracer; a BaseException so that ``except Exception`` in the program lets it pass."""


def run_bounded(function: Callable[..., Any], args: Sequence[Any] = (), max_lines: int = MAX_LINES) -> tuple[Any, int]:
    """``function(*args)`` on a deep copy of ``args`` (a solution may change its input), with at most
    ``max_lines`` executed lines; returns (result, lines executed) or raises ``ProgramFailed``."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > max_lines:
                raise _OverBudget
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        return local

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        result = function(*copy.deepcopy(list(args)))
    except _OverBudget:
        raise ProgramFailed("too_slow", f"more than {max_lines} lines executed") from None
    except RecursionError:
        raise ProgramFailed("raised", "the maximum recursion depth was exceeded") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the program discards the input
        raise ProgramFailed("raised", f"{type(exc).__name__}: {exc}"[:300]) from None
    finally:
        sys.settrace(previous)
    if count > max_lines:  # the program caught the budget's exception and went on
        raise ProgramFailed("too_slow", f"more than {max_lines} lines executed")
    return result, count


# ----- the canonical text of values -------------------------------------------------------------
def _float_text(value: float) -> str:
    if not math.isfinite(value):
        raise ProgramFailed("bad_output", f"the output holds a non-finite float ({value})")
    text = f"{value:.{FLOAT_DIGITS}g}"
    if "e" not in text and "." not in text and "n" not in text:
        text += ".0"
    return text


def literal(value: Any) -> str:
    """The canonical Python literal of a value (sets and dicts in sorted order, floats at
    ``FLOAT_DIGITS`` significant digits); ``ProgramFailed("bad_output")`` for anything else."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(map(literal, value))
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, (set, frozenset)):
        return "set()" if not value else "{" + ", ".join(sorted(map(literal, value))) + "}"
    if isinstance(value, dict):
        items = sorted((literal(k), literal(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    raise ProgramFailed("bad_output", f"the output is a {type(value).__name__}, not a plain value")


def parse_literal(text: str) -> Any:
    """The value of a Python literal, or raise ``ValueError`` with the reason."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("python").strip()
    if len(text) > MAX_LITERAL_CHARS:
        raise ValueError(f"the answer is longer than {MAX_LITERAL_CHARS} characters")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise ValueError(f"the answer is not a Python literal ({type(exc).__name__})") from None


def _same_float(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and _float_text(float(a)) == _float_text(float(b))


def same_value(answer: Any, expected: Any) -> bool:
    """Whether an answer's value equals the expected output: types must agree (an int is not a
    bool, a string is not a number) except that a list and a tuple of equal items are the same, and
    an int may stand for a float; floats agree at ``FLOAT_DIGITS`` significant digits."""
    if isinstance(expected, bool) or expected is None:
        return type(answer) is type(expected) and answer == expected
    if isinstance(expected, int):
        return type(answer) is int and answer == expected
    if isinstance(expected, float):
        return type(answer) in (int, float) and _same_float(float(answer), expected)
    if isinstance(expected, str):
        return type(answer) is str and answer == expected
    if isinstance(expected, (list, tuple)):
        return (
            type(answer) in (list, tuple)
            and len(answer) == len(expected)
            and all(same_value(a, e) for a, e in zip(answer, expected, strict=True))
        )
    if isinstance(expected, (set, frozenset)):
        if type(answer) not in (set, frozenset) or len(answer) != len(expected):
            return False
        return {literal(a) for a in answer} == {literal(e) for e in expected}
    if isinstance(expected, dict):
        if type(answer) is not dict or len(answer) != len(expected):
            return False
        keys = {literal(k): k for k in answer}
        return all(literal(k) in keys and same_value(answer[keys[literal(k)]], v) for k, v in expected.items())
    return False


# ----- input specs and type-aware mutation ------------------------------------------------------
def _spec_of(value: Any) -> dict[str, Any]:
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool"}
    if isinstance(value, int):
        return {"t": "int", "lo": value, "hi": value}
    if isinstance(value, float):
        return {"t": "float", "lo": value, "hi": value}
    if isinstance(value, str):
        spec = {"t": "str", "chars": "".join(sorted(set(value))), "len": len(value), "values": [value]}
        if " " in value.strip():  # words: grown word by word, which keeps tokens a solution parses intact
            spec["words"] = sorted(set(value.split()))[:MAX_WORDS]
        return spec
    if isinstance(value, list):
        return {"t": "list", "item": merge_specs(_spec_of(v) for v in value), "len": len(value)}
    if isinstance(value, tuple):
        return {"t": "tuple", "items": [_spec_of(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "key": merge_specs(_spec_of(k) for k in value),
                "value": merge_specs(_spec_of(v) for v in value.values()), "len": len(value)}  # fmt: skip
    raise ValueError(f"a {type(value).__name__} is not a plain value")


def _merge_two(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None or b is None:
        return a or b
    if a["t"] == "union" or b["t"] == "union":
        options = (a["options"] if a["t"] == "union" else [a]) + (b["options"] if b["t"] == "union" else [b])
        merged: list[dict[str, Any]] = []
        for option in options:
            same = next((i for i, m in enumerate(merged) if m["t"] == option["t"]), None)
            if same is None:
                merged.append(option)
            else:
                merged[same] = _merge_two(merged[same], option)  # type: ignore[assignment]
        return merged[0] if len(merged) == 1 else {"t": "union", "options": merged}
    kinds = {a["t"], b["t"]}
    if kinds == {"int", "float"}:
        return {"t": "float", "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    if a["t"] != b["t"]:
        return {"t": "union", "options": [a, b]}
    kind = a["t"]
    if kind in ("int", "float"):
        return {"t": kind, "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    if kind == "str":
        merged = {"t": "str", "chars": "".join(sorted(set(a["chars"]) | set(b["chars"]))), "len": max(a["len"], b["len"]),
                  "values": sorted(set(a["values"]) | set(b["values"]))[:MAX_WORDS]}
        if "words" in a or "words" in b:
            merged["words"] = sorted(set(a.get("words", [])) | set(b.get("words", [])))[:MAX_WORDS]
        return merged
    if kind == "list":
        return {"t": "list", "item": _merge_two(a["item"], b["item"]), "len": max(a["len"], b["len"])}
    if kind == "tuple":
        if len(a["items"]) != len(b["items"]):
            items = [*a["items"], *b["items"]]
            return {"t": "list", "item": merge_specs(items), "len": max(len(a["items"]), len(b["items"]))}
        return {"t": "tuple", "items": [_merge_two(x, y) for x, y in zip(a["items"], b["items"], strict=True)]}
    if kind == "dict":
        return {"t": "dict", "key": _merge_two(a["key"], b["key"]), "value": _merge_two(a["value"], b["value"]),
                "len": max(a["len"], b["len"])}  # fmt: skip
    return a


def merge_specs(specs: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    out = None
    for spec in specs:
        out = _merge_two(out, spec)
    return out


def infer_spec(examples: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """One spec per argument position from example argument lists (all of the same length):
    the types seen, numeric ranges, string alphabets, container lengths. ``ValueError`` when the
    examples disagree on the number of arguments or hold something that is not a plain value."""
    if not examples:
        raise ValueError("no example inputs")
    arity = len(examples[0])
    if any(len(args) != arity for args in examples):
        raise ValueError("the example inputs have different numbers of arguments")
    return [merge_specs(_spec_of(args[i]) for args in examples) for i in range(arity)]  # type: ignore[misc]


def spec_dimensions(specs: Iterable[dict[str, Any] | None]) -> dict[str, int]:
    """Which scale parameters a spec responds to, with the examples' own scale: ``size`` (the
    longest string or container) and ``magnitude`` (the largest absolute number)."""
    found: dict[str, int] = {}

    def walk(spec: dict[str, Any] | None) -> None:
        if spec is None:
            return
        kind = spec["t"]
        if kind in ("int", "float"):
            found["magnitude"] = max(found.get("magnitude", 1), math.ceil(max(abs(spec["lo"]), abs(spec["hi"]))))
        elif kind in ("str", "list", "dict"):
            found["size"] = max(found.get("size", 1), spec["len"])
            walk(spec.get("item"))
            walk(spec.get("key"))
            walk(spec.get("value"))
        elif kind == "tuple":
            for item in spec["items"]:
                walk(item)
        elif kind == "union":
            for option in spec["options"]:
                walk(option)

    for spec in specs:
        walk(spec)
    return found


def _domain(spec: dict[str, Any], magnitude: float) -> tuple[float, float, bool]:
    """(low, high, signed): numbers up to ``magnitude``, keeping the examples' sign where they all share one."""
    if spec["lo"] >= 0:
        return min(spec["lo"], magnitude), magnitude, False
    if spec["hi"] <= 0:
        return -magnitude, max(-magnitude, spec["hi"]), False
    return -magnitude, magnitude, True


def _draw_number(rng: Any, spec: dict[str, Any], magnitude: float, uniform: Callable[[float, float], Any]) -> Any:
    """Most numbers in the upper half of the magnitude (a larger magnitude means larger numbers:
    difficulty moves with the level), a tenth anywhere in the domain."""
    low, high, signed = _domain(spec, magnitude)
    if rng.random() < 0.1:
        return uniform(low, high)
    if signed:
        value = uniform(magnitude / 2, magnitude)
        return value if rng.random() < 0.5 else -value
    if low >= 0:
        return uniform((low + high) / 2, high)
    return uniform(low, (low + high) / 2)


def _draw_int(rng: Any, spec: dict[str, Any], seed: Any, magnitude: int) -> int:
    return _draw_number(rng, spec, magnitude, lambda a, b: rng.randint(math.ceil(a), max(math.ceil(a), math.floor(b))))


def _draw_float(rng: Any, spec: dict[str, Any], seed: Any, magnitude: int) -> float:
    return _draw_number(rng, spec, magnitude, lambda a, b: round(rng.uniform(a, b), 2))


def _length(rng: Any, size: int, empty_seen: bool) -> int:
    """A length near ``size`` (its top fifth): a larger ``size`` always means longer inputs."""
    return rng.randint(0 if empty_seen and size <= 1 else max(1, math.ceil(0.8 * size)), max(1, size))


def _draw_str(rng: Any, spec: dict[str, Any], seed: Any, size: int) -> str:
    alphabet = spec["chars"] or DEFAULT_ALPHABET
    if spec.get("values") and rng.random() < 0.2:  # one of the examples' own strings, as it is
        return rng.choice(spec["values"])
    target = _length(rng, size, spec["len"] == 0)
    if spec.get("words") and rng.random() < 0.7:
        return _draw_words(rng, spec["words"], seed, target)
    text = list(seed) if isinstance(seed, str) and rng.random() < 0.7 else []
    for _ in range(rng.randint(1, 3) if text else 0):  # a few edits of the example
        roll, where = rng.random(), rng.randrange(len(text))
        if roll < 0.4:
            text.insert(where, rng.choice(alphabet))
        elif roll < 0.8:
            text[where] = rng.choice(alphabet)
        elif len(text) > 1:
            del text[where]
    while len(text) < target:  # grown by copies of its own pieces (keeping its structure) or new characters
        where = rng.randint(0, len(text))
        if text and rng.random() < 0.5:
            start = rng.randrange(len(text))
            text[where:where] = text[start : start + rng.randint(1, target - len(text))]
        else:
            text.insert(where, rng.choice(alphabet))
    return "".join(text[:target])


def _draw_words(rng: Any, vocabulary: list[str], seed: Any, target: int) -> str:
    """Words of the examples, the seed's first (some dropped or swapped), up to ``target`` characters."""
    words = seed.split() if isinstance(seed, str) else []
    if len(words) > 1 and rng.random() < 0.5:
        i, j = rng.randrange(len(words)), rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
    if words and rng.random() < 0.3:
        del words[rng.randrange(len(words))]
    while len(" ".join(words)) < target:
        words.insert(rng.randint(0, len(words)), rng.choice(vocabulary))
    while len(" ".join(words)) > target and len(words) > 1:
        words.pop()
    return " ".join(words)


def _draw_items(rng: Any, item: dict[str, Any] | None, seed: Any, size: int, magnitude: int) -> list[Any]:
    if item is None:
        return []
    old = list(seed) if isinstance(seed, (list, tuple)) else []
    length = _length(rng, size, not old)
    return [draw_value(rng, item, rng.choice(old) if old and rng.random() < 0.5 else None, size, magnitude)
            for _ in range(length)]  # fmt: skip


def draw_value(rng: Any, spec: dict[str, Any] | None, seed: Any, size: int, magnitude: int) -> Any:
    """A value of ``spec``'s type grown from ``seed`` (a value of the examples, or None): numbers
    within ``magnitude`` (non-negative where the examples are), strings from the examples'
    characters and containers up to ``size`` long."""
    if spec is None:
        return seed
    kind = spec["t"]
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return _draw_int(rng, spec, seed, magnitude)
    if kind == "float":
        return _draw_float(rng, spec, seed, magnitude)
    if kind == "str":
        return _draw_str(rng, spec, seed, size)
    if kind == "list":
        return _draw_items(rng, spec["item"], seed, size, magnitude)
    if kind == "tuple":
        old = seed if isinstance(seed, (list, tuple)) and len(seed) == len(spec["items"]) else [None] * len(spec["items"])
        return tuple(draw_value(rng, s, v, size, magnitude) for s, v in zip(spec["items"], old, strict=True))
    if kind == "dict":
        keys = _draw_items(rng, spec["key"], list(seed) if isinstance(seed, dict) else None, size, magnitude)
        values = list(seed.values()) if isinstance(seed, dict) and seed else [None]
        return {k: draw_value(rng, spec["value"], rng.choice(values), size, magnitude) for k in keys
                if isinstance(k, (str, int, float, bool, tuple)) or k is None}  # fmt: skip
    if kind == "union":
        fitting = [o for o in spec["options"] if _fits(o, seed)]
        option = fitting[0] if fitting and rng.random() < 0.8 else rng.choice(spec["options"])
        return draw_value(rng, option, seed if option in fitting else None, size, magnitude)
    raise ValueError(f"unknown spec type {kind!r}")


def _fits(spec: dict[str, Any], value: Any) -> bool:
    kinds = {"none": type(None), "bool": bool, "str": str, "list": list, "tuple": tuple, "dict": dict}
    if spec["t"] == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec["t"] == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kinds.get(spec["t"], ()))


def draw_input(rng: Any, examples: Sequence[Sequence[Any]], specs: Sequence[dict[str, Any] | None], size: int,
               magnitude: int) -> list[Any]:  # fmt: skip
    """New arguments grown from one example chosen at random, argument by argument."""
    example = rng.choice(examples)
    return [draw_value(rng, spec, value, size, magnitude) for spec, value in zip(specs, example, strict=True)]


def call_text(entry_point: str, args: Sequence[Any]) -> str:
    """``f(1, 'a', [2.5])``: the call an instance asks about, its arguments exactly as drawn."""
    return f"{entry_point}({', '.join(map(repr, args))})"


_EXAMPLES = {"[": ("[1, 2]", "[0]"), "(": ("(1, 2)", "(0, 0)"), "'": ("'abc'", "'xyz'"), '"': ("'abc'", "'xyz'"),
             "{": ("{'a': 1}", "{}"), "T": ("True", "False"), "F": ("True", "False"), "N": ("0", "0")}  # fmt: skip


def _shape_examples(reference: str) -> tuple[str, str]:
    """Two values of the reference's shape, chosen by its shape alone (never by its value)."""
    if reference[:1] in _EXAMPLES:
        return _EXAMPLES[reference[:1]]
    if "." in reference or "e" in reference:
        return "2.5", "0.5"
    return "7", "3"


def example_answer(reference: str) -> str:
    """An answer of the reference's shape for the prompt's format example, chosen by the shape
    alone: an example that changed with the value would say what the value is not (a converted
    environment fixes one example and never asks about an output equal to it)."""
    return _shape_examples(reference)[0]


def example_calls(output: str) -> str:
    """The format example for several calls' outputs, from the shape of one output: ``[7, 3, ...]``.
    It depends on no value and, holding ``...``, is never anyone's answer."""
    first, second = _shape_examples(output)
    return f"[{first}, {second}, ...]"


# ----- stdin / stdout programs ------------------------------------------------------------------
class ProgramExit(BaseException):
    """``sys.exit`` / ``exit`` inside a stdin/stdout program: it stops, its output so far stands."""


class _Stdin:
    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)
        self._next = 0

    def readline(self, limit: int = -1) -> str:
        if self._next >= len(self._lines):
            return ""
        self._next += 1
        return self._lines[self._next - 1]

    def read(self, limit: int = -1) -> str:
        rest = "".join(self._lines[self._next :])
        self._next = len(self._lines)
        return rest

    def readlines(self) -> list[str]:
        rest = self._lines[self._next :]
        self._next = len(self._lines)
        return rest

    def __iter__(self) -> Any:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class _Stdout:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(str(text))
        return len(str(text))

    def flush(self) -> None:
        pass


class _Sys:
    """What a stdin/stdout program may use of ``sys``."""

    maxsize = sys.maxsize

    def __init__(self, text: str) -> None:
        self.stdin = _Stdin(text)
        self.stdout = _Stdout()
        self.argv = ["program"]

    def exit(self, code: Any = 0) -> None:
        raise ProgramExit

    def setrecursionlimit(self, limit: int) -> None:
        pass  # the sandbox's limit stands

    def getrecursionlimit(self) -> int:
        return sys.getrecursionlimit()


def run_stdio(program: Callable[..., None], text: str, max_lines: int = MAX_LINES) -> tuple[str, int]:
    """Run a rewritten stdin/stdout program (``def program(_ef_input, _ef_sys, print, _ef_exit)``)
    on ``text``; returns (what it wrote, lines executed) or raises ``ProgramFailed``."""
    fake = _Sys(text)

    def read_line(prompt: str = "") -> str:
        line = fake.stdin.readline()
        if not line:
            raise EOFError("EOF when reading a line")
        return line.rstrip("\n")

    def write(*values: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False) -> None:
        fake.stdout.write((" " if sep is None else sep).join(map(str, values)) + ("\n" if end is None else end))

    def stop(code: Any = 0) -> None:
        raise ProgramExit

    def body() -> None:
        try:
            program(read_line, fake, write, stop)
        except ProgramExit:
            pass

    _, lines = run_bounded(body, (), max_lines)
    return "".join(fake.stdout.parts), lines


def output_tokens(text: str) -> list[str]:
    """An output as a judge compares it: its whitespace-separated tokens."""
    return text.split()
