"""The environment module a problem becomes: the problem's own code, wrapped, plus constants.

Each piece of the problem's code (a reference solution, an input generator, a validator, the
tests) is placed inside a function of its own, so that its names never meet the module's or each
other's; the piece's functions are what that wrapper returns. stdin/stdout programs are rewritten
with ``ast`` first: ``input``, ``print``, ``sys.stdin``/``sys.stdout``, ``sys.exit``/``exit`` and
``__name__`` are the ones ``envfoundry.core.programs.run_stdio`` hands in, and ``import sys`` goes.
Whatever else the code uses is judged by the static stage like any environment's code.

``render(problem, scale)`` gives the module the archive keeps; ``render(..., probe=True)`` the
one the converter probes first (with every solution, a ``tests`` parameter that runs the tests,
a ``calls`` parameter, and the scale parameters left wide open for the scale search).

An instance of a function problem asks about ``Scale.calls`` calls of the function at once (one,
unless the converter found that single calls have too few distinct outputs: a function returning a
bool is a coin a policy can guess half the time, five calls of it are one of 32 answers). This is
CodeContests' own form, several test cases in one input with one answer for all; the reward is
still all or nothing.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from envfoundry.convert.problems import Problem
from envfoundry.core import FloatParam, IntParam

FAMILY = "programs"
# Draws per instance before sampling gives up (the scale stage rejects problems that discard most draws).
ATTEMPTS = 50
# The scale parameters' widest range, searched by the scale stage.
SIZE_CAP = 200
MAGNITUDE_CAP = 10**9
# The most calls one instance asks about.
MAX_CALLS = 8
# Lines the probe lets the reference execute for one instance, discarded draws included, before it
# gives up on the instance (about 150 ms: three times the battery's sampling budget).
PROBE_WORK = 1_000_000


class ConversionError(ValueError):
    """The problem's code cannot be placed in a module (it does not parse, or uses what cannot be rewritten)."""


@dataclass
class Scale:
    """The parameter space of a converted environment: ``dims`` maps a name to (low, high, kind);
    ``calls`` is how many calls of the function each instance asks about.

    For the probe, ``start`` is where the scale search begins (the examples' own scale); the
    search may go down to ``low`` from there where even that is too large."""

    dims: dict[str, tuple[float, float, str]]
    start: dict[str, float] = field(default_factory=dict)
    calls: int = 1
    # The format example every prompt shows, from the usual output's shape (``programs.example_answer``,
    # or ``example_calls`` for several calls; set by the calls stage): one for every instance, so that
    # it says nothing of any instance's outputs. Empty: chosen by each output's shape.
    example: str = ""
    # Outputs balanced over classes: {"classes": [usual outputs], "other": whether any other output
    # is a class of its own}; each call's class is drawn uniformly (``stages/calls.py``).
    balance: dict[str, Any] | None = None

    def params(self) -> dict[str, Any]:
        """The parameters as the environment declares them (``IntParam``/``FloatParam``)."""
        made: dict[str, Any] = {}
        for name, (low, high, kind) in self.dims.items():
            if kind == "int":
                made[name] = IntParam(int(low), int(high), scale="log" if _log(low, high, kind) else "linear")
            else:
                made[name] = FloatParam(low, high)
        return made

    def at_level(self, level: float) -> dict[str, Any]:
        """The parameters at ``level``, as the environment's own space maps it."""
        return {name: param.at_level(level) for name, param in self.params().items()}


def _log(low: float, high: float, kind: str) -> bool:
    """Whether a dimension is searched on a log scale (an integer range of two decades or more)."""
    return kind == "int" and low > 0 and high / max(low, 1) >= 100


# ----- rewriting the problem's code -------------------------------------------------------------
class _Stdio(ast.NodeTransformer):
    """stdin/stdout programs: route input, output, exit and ``sys`` to the arguments of the wrapper."""

    def visit_Import(self, node: ast.Import) -> Any:
        kept = [alias for alias in node.names if alias.name != "sys"]
        if any(alias.name == "sys" and alias.asname not in (None, "sys") for alias in node.names):
            raise ConversionError("the program imports sys under another name")
        if not kept:
            return ast.Pass()
        node.names = kept
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        if node.module == "sys":
            raise ConversionError("the program imports names from sys (use sys.stdin / sys.stdout)")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        renamed = {"input": "_ef_input", "sys": "_ef_sys", "exit": "_ef_exit", "quit": "_ef_exit"}
        if node.id in renamed:
            return ast.copy_location(ast.Name(renamed[node.id], node.ctx), node)
        if node.id == "__name__":
            return ast.copy_location(ast.Constant("__main__"), node)
        return node

    def visit_Global(self, node: ast.Global) -> Any:
        # The program's top level becomes a function: its globals are that function's variables.
        return ast.copy_location(ast.Nonlocal(node.names), node)


def _parse(source: str, what: str) -> ast.Module:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise ConversionError(f"the {what} does not parse: {exc}") from None


def _body(tree: ast.Module) -> str:
    # ``from __future__`` only means something at a module's top; annotations are not evaluated here.
    tree.body = [n for n in tree.body if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
    return ast.unparse(tree) if tree.body else "pass"


def wrap(source: str, function: str, returns: str, what: str, stdio: bool = False) -> str:
    """``def function(...)`` holding ``source``, returning ``returns`` (a name the source defines)."""
    tree = _parse(source, what)
    if stdio:
        tree = ast.fix_missing_locations(_Stdio().visit(tree))
        return f"def {function}(_ef_input, _ef_sys, print, _ef_exit):\n{textwrap.indent(_body(tree), '    ')}\n"
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if returns not in defined:
        raise ConversionError(f"the {what} defines no function named {returns!r}")
    return f"def {function}():\n{textwrap.indent(_body(tree), '    ')}\n    return {returns}\n"


def environment_name(problem: Problem) -> str:
    """A lowercase identifier from the dataset, the task id and the entry point."""
    number = re.sub(r"[^a-z0-9]+", "_", problem.task_id.lower()).strip("_")
    dataset = re.sub(r"[^a-z0-9]+", "_", problem.dataset.lower()).strip("_") or "problem"
    parts = [number] if number.startswith(dataset) else [dataset, number]
    if problem.entry_point and problem.entry_point.lower() not in number:
        parts.append(re.sub(r"[^a-z0-9]+", "_", problem.entry_point.lower()).strip("_"))
    name = "_".join(p for p in parts if p)
    if not name[:1].isalpha():
        name = "p_" + name
    return name[:64].rstrip("_")


def _class_name(name: str) -> str:
    return "Converted" + "".join(part.capitalize() for part in name.split("_"))


# ----- the module -------------------------------------------------------------------------------
_FUNCTION_TASK = (
    "What does the call `{call}` return? Work it out from the description. Answer with the returned "
    "value as a Python literal: a number, a quoted string, a list, a tuple, a dict, True, False or None "
    "(floats to {digits} significant digits are enough)."
)
_FUNCTION_CALLS_TASK = (
    "What do these {count} calls return?\n\n{calls}\n\nWork them out from the description. Answer with one "
    "Python list of the {count} returned values, in the order of the calls, each as a Python literal: a "
    "number, a quoted string, a list, a tuple, a dict, True, False or None (floats to {digits} significant "
    "digits are enough)."
)
# The format example of every stdin/stdout prompt (an output equal to it is never asked about).
_STDIO_EXAMPLE = "3"
_STDIO_TASK = (
    "What does a correct program print for this input? Answer with the exact output; tokens are "
    "compared, so spacing and line breaks do not matter."
)


def _params_text(scale: Scale, probe: bool) -> tuple[str, str]:
    """The ``space`` literal and the generate signature's parameters."""
    entries, names = [], []
    for name, (low, high, kind) in scale.dims.items():
        param = "IntParam" if kind == "int" else "FloatParam"
        log = ', scale="log"' if _log(low, high, kind) else ""
        description = {"size": "longest string or list in the input", "magnitude": "largest number in the input"}
        text = description.get(name, f"input generator parameter {name}")
        entries.append(f"        {name!r}: {param}({low!r}, {high!r}{log}, description={text!r}),")
        names.append(name)
    if probe:
        entries.append("        'tests': IntParam(0, 1, description='1: run the problem\\'s tests instead of drawing'),")
        entries.append(f"        'calls': IntParam(1, {MAX_CALLS}, description='calls asked about in one instance'),")
    return "{\n" + "\n".join(entries) + "\n    }", ", ".join(names)


def render(problem: Problem, scale: Scale, *, probe: bool = False) -> str:
    """The environment module for ``problem`` with the parameter space ``scale``."""
    name = environment_name(problem)
    function = problem.kind == "function"
    solutions = problem.solutions if probe else problem.solutions[:1]
    pieces = []
    for index, source in enumerate(solutions):
        what = f"solution {index + 1}"
        pieces.append(wrap(source, f"_solution_{index}", problem.entry_point or "", what, stdio=not function))
    refs = ", ".join(f"_solution_{i}()" if function else f"_solution_{i}" for i in range(len(solutions)))
    generator = problem.input_generator
    if generator is not None:
        pieces.append(wrap(generator["source"], "_input_generator", "generate_input", "input generator"))
    if problem.answers == "many":
        if not problem.validator:
            raise ConversionError("several outputs are right and no validity verifier was given")
        pieces.append(wrap(problem.validator, "_validator", "validate", "validator"))
    if probe and problem.check_source:
        # HumanEval's tests run in the solution's namespace (they may call its helpers).
        source = problem.solutions[0] + "\n\n" + problem.check_source
        pieces.append(wrap(source, "_tests", "check", "test code"))
    if not scale.dims:
        raise ConversionError("the inputs have nothing to scale (no string, container or number)")
    if (scale.calls > 1 or scale.balance) and (not function or problem.answers == "many"):
        raise ConversionError("only a function problem with one right output is asked about several calls or balanced")
    space, params = _params_text(scale, probe)
    task = _FUNCTION_TASK if function else _STDIO_TASK
    lines = [
        f'"""{problem.label} as an environment, written by envfoundry.convert: the output of the problem\'s',
        "reference solution on a generated input is the reference; the problem's code is below, unchanged",
        'apart from being wrapped (and, for stdin/stdout programs, reading and printing through the wrapper)."""',
        "",
        "from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, shows_answer",
        "from envfoundry.core import programs as _programs",
        "",
        "",
        *[piece + "\n\n" for piece in pieces],
        f"_SOLUTIONS = [{refs}]",
        f"_INPUT_GENERATOR = {'_input_generator()' if generator is not None else 'None'}",
        f"_VALIDATOR = {'_validator()' if problem.answers == 'many' else 'None'}",
        f"_TESTS = {'_tests()' if probe and problem.check_source else 'None'}",
        f"_TEST_CASES = {problem.tests!r}" if probe else "_TEST_CASES = []",
        f"_ENTRY = {problem.entry_point!r}",
        f"_EXAMPLES = {problem.examples!r}" if function and generator is None else "_EXAMPLES = []",
        f"_SPECS = {_specs(problem)!r}" if function and generator is None else "_SPECS = []",
        f"_KNOWN = {_known_inputs(problem)!r}",
        f"_STATEMENT = {problem.statement!r}",
        f"_TASK = {task!r}",
        *([f"_CALLS_TASK = {_FUNCTION_CALLS_TASK!r}"] if function else []),
        f"_EXAMPLE = {scale.example or ('' if function else _STDIO_EXAMPLE)!r}",
        f"_ATTEMPTS = {ATTEMPTS}",
        f"_CALLS = {scale.calls if function else 1}",
        f"_BALANCE = {scale.balance if function else None!r}",
        f"_PROBE_WORK = {PROBE_WORK}",
        f"_PROBE = {probe!r}",
        "",
        "",
        f"class {_class_name(name)}(Environment):",
        f'    """{_docstring(problem, scale.calls)}"""',
        "",
        f"    name = {name!r}",
        '    asymmetry = "algorithmic"',
        f"    family = {FAMILY!r}",
        f"    answers = {problem.answers!r}",
        f"    space = {space}",
        "",
        f"    def generate(self, rng, {params}{', tests, calls' if probe else ''}):",
        *(_PROBE_TESTS if probe else []),
        f"        return _generate(rng, {{{', '.join(f'{p!r}: {p}' for p in params.split(', '))}}}, "
        f"{'calls' if probe else '_CALLS'})",
        "",
        "    def prompt(self, state):",
        "        return _prompt(state)",
        "",
        "    def reference(self, state):",
        "        return state['output']",
        "",
        "    def verify(self, state, answer):",
        "        return _verify(state, answer)",
        "",
        "    def complexity(self, state):",
        "        return float(len(state['input']) + len(state['output']))",
        "",
        "    def metadata(self, state):",
        "        return {'discarded': state['discarded']}",
        "",
        "",
        _RUNTIME_GENERATE,
        "",
        _RUNTIME_FUNCTION if function else _RUNTIME_STDIO,
    ]
    return "\n".join(lines).rstrip() + "\n"


def _known_inputs(problem: Problem) -> set[str]:
    """The inputs of the examples and tests (as ``repr`` of what ``_draw`` returns): never asked about."""
    if problem.kind == "function":
        return {repr(list(args)) for args in problem.examples} | {repr(list(t["args"])) for t in problem.tests}
    return {repr(t["input"] if t["input"].endswith("\n") else t["input"] + "\n") for t in problem.tests}


def _specs(problem: Problem) -> list[Any]:
    from envfoundry.core.programs import infer_spec

    return infer_spec(problem.examples)


def _docstring(problem: Problem, calls: int) -> str:
    first = next((line.strip() for line in problem.statement.splitlines() if line.strip()
                  and not line.strip().startswith(("def ", "from ", "import ", "#", '"""', "'''"))), "")  # fmt: skip
    what = "the output of the program"
    if problem.kind == "function":
        what = "the output of a call of the function" if calls == 1 else f"the outputs of {calls} calls of the function"
    text = (f"Give {what} described here for generated inputs ({problem.label}): {first[:200]}. The reference "
            "is the reference solution's output; any other answer earns 0.")  # fmt: skip
    return text.replace('"""', "'''").replace("\\", "\\\\")


# The probe's generate runs the problem's own tests when asked (``tests=1``).
_PROBE_TESTS = [
    "        if tests:",
    "            passed, failures = run_tests()",
    "            return {'input': '', 'args': '', 'output': '-', 'lines': 0, 'discarded': 0,",
    "                    'tests': [passed, failures]}",
]

_RUNTIME_GENERATE = '''def _generate(rng, params, calls):
    """The state of an instance about ``calls`` distinct generated inputs on which the reference
    returns within its budget. With ``_BALANCE``, each call first picks an output class at random
    (one of the usual outputs, or any other) and inputs are drawn for it (``_one``). An instance
    whose prompt shows its answer is drawn again."""
    discarded, work = 0, [0]
    for _ in range(_ATTEMPTS):
        runs, seen = [], set()
        for _ in range(calls):
            target = rng.randrange(len(_BALANCE["classes"]) + _BALANCE["other"]) if _BALANCE else None
            drawn, state, failed = _one(rng, params, seen, target, work, _EXAMPLE if calls == 1 else None)
            discarded += failed
            seen.add(repr(drawn))
            runs.append((drawn, state))
        if calls == 1:
            drawn, state = runs[0]
            if _PROBE:
                state["others"] = [_other(solution, drawn) for solution in _SOLUTIONS[1:]]
            break
        state = _together([state for _, state in runs])
        if not shows_answer(_prompt(state), state["output"]):
            break
        discarded += calls
    else:
        raise ValueError(f"every one of {_ATTEMPTS} instances showed its answer in the prompt")
    if not _PROBE:
        del state["lines"]
    state["discarded"] = discarded
    return state


def _one(rng, params, seen, target, work, avoid):
    """(input, state, discarded) for one call. An input the reference fails on, or whose output
    the prompt would show, is discarded and counted; one of the examples, already in this instance,
    or whose output is ``avoid`` (the prompt's format example) is skipped. With a ``target`` class,
    inputs are drawn until the output falls in it; after ``_ATTEMPTS`` draws the first usable one
    of another class stands. ``work[0]`` counts the lines the reference executed for the instance:
    the probe gives up on an instance past ``_PROBE_WORK`` (a setting that costs that much is over
    every budget anyway)."""
    discarded, fallback = 0, None
    for _ in range(_ATTEMPTS):
        if _PROBE and work[0] > _PROBE_WORK:
            raise ValueError(f"the reference executed over {_PROBE_WORK} lines on this instance's draws")
        drawn = _draw(rng, **params)
        key = repr(drawn)
        if key in _KNOWN or key in seen:  # the statement or its tests may show a known input's output
            continue
        try:
            state = _run(drawn)
        except _programs.ProgramFailed as exc:
            discarded += 1
            work[0] += _programs.MAX_LINES if exc.kind == "too_slow" else 0
            continue
        work[0] += state["lines"]
        if state["output"] == avoid:
            continue
        if shows_answer(_prompt(state), state["output"]):
            discarded += 1
            continue
        if target is None or _output_class(state["output"]) == target:
            return drawn, state, discarded
        fallback = fallback or (drawn, state)
    if fallback is None:
        raise ValueError(f"no usable input in {_ATTEMPTS} draws (the reference failed or the output showed)")
    return (*fallback, discarded)


def _output_class(output):
    classes = _BALANCE["classes"]
    return classes.index(output) if output in classes else len(classes)
'''

_RUNTIME_FUNCTION = '''def _draw(rng, **params):
    if _INPUT_GENERATOR is not None:
        args = _INPUT_GENERATOR(rng, **params)
        if not isinstance(args, (list, tuple)):
            raise ValueError("the input generator must return a list of arguments")
        return list(args)
    return _programs.draw_input(rng, _EXAMPLES, _SPECS, params.get("size", 1), params.get("magnitude", 1))


def _run(args):
    output, lines = _programs.run_bounded(_SOLUTIONS[0], args)
    return {"input": _programs.call_text(_ENTRY, args), "args": repr(args), "output": _programs.literal(output),
            "lines": lines}


def _together(states):
    """One instance about several calls: the calls numbered, the outputs in one list."""
    return {"input": "\\n".join(s["input"] for s in states), "args": "[" + ", ".join(s["args"] for s in states) + "]",
            "output": "[" + ", ".join(s["output"] for s in states) + "]", "lines": max(s["lines"] for s in states),
            "calls": len(states), "outputs": [s["output"] for s in states]}


def _other(solution, args):
    try:
        return _programs.literal(_programs.run_bounded(solution, args)[0])
    except _programs.ProgramFailed as exc:
        return "!" + str(exc)


def _prompt(state):
    if "calls" in state:
        calls = "\\n".join(f"{number}. `{call}`" for number, call in enumerate(state["input"].split("\\n"), 1))
        example = _EXAMPLE or _programs.example_calls(state["outputs"][0])
        task = _CALLS_TASK.format(count=state["calls"], calls=calls, digits=_programs.FLOAT_DIGITS)
    else:
        example = _EXAMPLE or _programs.example_answer(state["output"])
        task = _TASK.format(call=state["input"], digits=_programs.FLOAT_DIGITS)
    return (f"Here is a Python function, given by its signature and description:\\n\\n```python\\n{_STATEMENT}\\n```"
            f"\\n\\n{task}\\n" + answer_instruction(example))


def _verify(state, answer):
    try:
        value = _programs.parse_literal(answer)
    except ValueError as exc:
        return Score(0.0, str(exc), {"failure": "unparseable"})
    if _VALIDATOR is not None:
        args = _programs.parse_literal(state["args"])
        try:
            ok = _programs.run_bounded(_VALIDATOR, [args, value])[0]
        except _programs.ProgramFailed as exc:
            return Score(0.0, f"the validity check failed on this answer: {exc}", {"failure": "wrong"})
        return Score(1.0 if ok is True else 0.0, "a valid output" if ok is True else "not a valid output",
                     {"failure": "none" if ok is True else "wrong"})
    if _programs.same_value(value, _programs.parse_literal(state["output"])):
        return Score(1.0, "the call's output", {"failure": "none"})
    return Score(0.0, "not the call's output", {"failure": "wrong"})


def run_tests():
    """(passed, failures) of the problem's own tests against the reference solution (probe only)."""
    failures, passed = [], 0
    if _TESTS is not None:
        try:
            _programs.run_bounded(_TESTS, [_SOLUTIONS[0]], max_lines=5_000_000)
            passed += 1
        except _programs.ProgramFailed as exc:
            failures.append(f"check(): {exc}")
    for case in _TEST_CASES:
        try:
            got = _programs.run_bounded(_SOLUTIONS[0], case["args"])[0]
        except _programs.ProgramFailed as exc:
            failures.append(f"{_programs.call_text(_ENTRY, case['args'])}: {exc}")
            continue
        if _programs.same_value(got, case["output"]):
            passed += 1
        else:
            failures.append(f"{_programs.call_text(_ENTRY, case['args'])} gave {_programs.literal(got)}")
    return passed, failures
'''

_RUNTIME_STDIO = '''def _draw(rng, **params):
    text = _INPUT_GENERATOR(rng, **params)
    if not isinstance(text, str):
        raise ValueError("the input generator must return the input text")
    return text if text.endswith("\\n") else text + "\\n"


def _normalise(text):
    return "\\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())


def _run(text):
    output, lines = _programs.run_stdio(_SOLUTIONS[0], text)
    output = _normalise(output)
    if not output:
        raise _programs.ProgramFailed("bad_output", "the program printed nothing")
    return {"input": text, "args": text, "output": output, "lines": lines}


def _other(solution, text):
    try:
        return _normalise(_programs.run_stdio(solution, text)[0])
    except _programs.ProgramFailed as exc:
        return "!" + str(exc)


def _prompt(state):
    return (f"{_STATEMENT}\\n\\nInput:\\n```\\n{state['input']}```\\n\\n{_TASK}\\n" + answer_instruction(_EXAMPLE))


def _verify(state, answer):
    if _VALIDATOR is not None:
        try:
            ok = _programs.run_bounded(_VALIDATOR, [state["input"], answer])[0]
        except _programs.ProgramFailed as exc:
            return Score(0.0, f"the validity check failed on this answer: {exc}", {"failure": "wrong"})
        return Score(1.0 if ok is True else 0.0, "a valid output" if ok is True else "not a valid output",
                     {"failure": "none" if ok is True else "wrong"})
    if _programs.output_tokens(answer) == _programs.output_tokens(state["output"]):
        return Score(1.0, "the program's output", {"failure": "none"})
    return Score(0.0, "not the program's output", {"failure": "wrong"})


def run_tests():
    """(passed, failures) of the problem's own tests against the reference solution (probe only)."""
    failures, passed = [], 0
    for case in _TEST_CASES:
        try:
            got = _normalise(_programs.run_stdio(_SOLUTIONS[0], case["input"])[0])
        except _programs.ProgramFailed as exc:
            failures.append(f"input {case['input'][:40]!r}: {exc}")
            continue
        if _programs.output_tokens(got) == _programs.output_tokens(case["output"]):
            passed += 1
        else:
            failures.append(f"input {case['input'][:40]!r} gave {got[:40]!r}")
    return passed, failures
'''
