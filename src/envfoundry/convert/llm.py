"""A model writes a problem's input generator (``envfoundry convert --llm``).

The model reads the problem and its example inputs and writes ``generate_input(rng, size,
magnitude)``: an argument list for a function problem, the input text for a stdin/stdout one,
with ``size`` bounding lengths and ``magnitude`` numbers. Its code runs only in the sandbox, like
the problem's own; the scale stage then finds how far the two parameters may go. A reply without a
usable function gives None, and the converter falls back to growing the examples by mutation
where the problem allows it.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from envfoundry.convert.problems import Problem
from envfoundry.llm.extract import extract_code

PARAMS = {"size": {"type": "int", "low": 2, "high": 200}, "magnitude": {"type": "int", "low": 10, "high": 10**6}}
MAX_TOKENS = 512

_SYSTEM = "You write short, correct Python functions. Reply with one ```python code block and nothing else."


def generator_prompt(problem: Problem) -> list[dict[str, str]]:
    """The chat messages asking for ``generate_input``."""
    if problem.kind == "function":
        returns = f"a list of the arguments for one call of {problem.entry_point}"
        examples = "\n".join(json.dumps(args) for args in problem.examples[:5]) or "(none)"
        shown = f"Example argument lists, one per line:\n{examples}"
    else:
        returns = "the complete text the program reads from standard input"
        tests = "\n---\n".join(t["input"] for t in problem.tests[:3]) or "(none)"
        shown = f"Example inputs:\n{tests}"
    user = (
        f"Problem:\n{problem.statement}\n\n{shown}\n\n"
        "Write a Python function `generate_input(rng, size, magnitude)` that returns " + returns + ". It must "
        "produce a valid random input for the problem, use only `rng` (a random.Random) for randomness, keep "
        "every length at most `size` and every number at most `magnitude` in absolute value, and import "
        "nothing but standard modules such as math or string."
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_generator(text: str | None) -> dict[str, Any] | None:
    """``{"source", "params"}`` from a reply that defines ``generate_input``, else None."""
    code = extract_code(text) if text else None
    if not code and text and "def generate_input" in text:  # a bare function, without a fence
        code = text[text.index("def generate_input") :].split("\n```")[0]
    if not code:
        return None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    if not any(isinstance(node, ast.FunctionDef) and node.name == "generate_input" for node in tree.body):
        return None
    return {"source": code, "params": dict(PARAMS)}


def write_generators(model: Any, problems: list[Problem], temperature: float = 0.2) -> list[dict[str, Any] | None]:
    """One generator (or None) per problem, in one batch of chat calls."""
    replies = model.chat_many([generator_prompt(p) for p in problems], max_tokens=MAX_TOKENS, temperature=temperature)
    return [parse_generator(getattr(reply, "text", None)) for reply in replies]
