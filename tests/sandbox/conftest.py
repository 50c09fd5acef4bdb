"""Fixtures for sandbox tests: a bubblewrap requirement and small environment files."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from envfoundry.sandbox import isolation

TEMPLATE = '''
from envfoundry import Environment, IntParam, answer_instruction


class Echo(Environment):
    """Repeat a number: a test environment that misbehaves when size is 13 or the answer is 'attack'."""

    name = "echo_{tag}"
    asymmetry = "algorithmic"
    space = {{"size": IntParam(1, 50)}}

    def generate(self, rng, size):
        value = rng.randint(0, 10 ** size)
        if size == 13:
{on_generate}
        return {{"value": value}}

    def prompt(self, state):
        return f"Repeat {{state['value']}}. " + answer_instruction("7")

    def reference(self, state):
        return str(state["value"])

    def verify(self, state, answer):
        if answer == "attack":
{on_verify}
        return answer == str(state["value"])
'''


def _indent(code: str) -> str:
    code = textwrap.dedent(code).strip("\n") or "pass"
    return textwrap.indent(code, " " * 12)


def environment_source(on_generate: str = "", on_verify: str = "", tag: str = "test") -> str:
    """An environment file that runs ``on_generate`` when sampled with size=13 and ``on_verify``
    when the answer is "attack"; otherwise it behaves."""
    return TEMPLATE.format(tag=tag, on_generate=_indent(on_generate), on_verify=_indent(on_verify))


@pytest.fixture
def write_env(tmp_path):
    def write(on_generate: str = "", on_verify: str = "", tag: str = "test", name: str = "env.py") -> Path:
        path = tmp_path / name
        path.write_text(environment_source(on_generate, on_verify, tag))
        return path

    return write


def require_bubblewrap() -> None:
    found = isolation._detect()
    if found.kind != "bubblewrap":
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the sandbox under bubblewrap, but {found.weaker_because}")
        pytest.skip(f"bubblewrap is not usable here: {found.weaker_because}")


@pytest.fixture
def bubblewrap() -> None:
    require_bubblewrap()
