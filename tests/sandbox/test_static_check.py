"""The static pre-check: flags what environments may not use, passes what they do use."""

from __future__ import annotations

from pathlib import Path

import pytest

import envfoundry.envs
from envfoundry.sandbox.static_check import describe_findings, static_check


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import os\n", "imports 'os'"),
        ("import os.path as p\n", "imports 'os.path'"),
        ("from subprocess import run\n", "imports 'subprocess'"),
        ("import ctypes\n", "imports 'ctypes'"),
        ("import socket, math\n", "imports 'socket'"),
        ("from importlib import import_module\n", "imports 'importlib'"),
        ("from . import sibling\n", "relative import"),
        ("x = eval('1')\n", "calls eval()"),
        ("exec('x = 1')\n", "calls exec()"),
        ("m = __import__('o' + 's')\n", "calls __import__()"),
        ("f = open('/etc/passwd')\n", "calls open()"),
        ("g = globals()\n", "calls globals()"),
        ("name = 'sys'\nv = getattr(object, name)\n", "computed attribute name"),
        ("v = getattr(object, '__subclasses__')\n", "special attribute '__subclasses__'"),
        ("k = ().__class__.__bases__[0].__subclasses__()\n", "'.__class__'"),
        ("def f():\n    pass\ng = f.__globals__\n", "'.__globals__'"),
        ("b = __builtins__\n", "uses '__builtins__'"),
    ],
)
def test_flags_disallowed_code_with_its_line(source, fragment):
    findings = static_check(source)
    assert findings, f"nothing flagged in {source!r}"
    assert any(fragment in finding.message or fragment in str(finding) for finding in findings)
    assert findings[0].line == min(f.line for f in findings) >= 1


def test_allows_what_environments_use():
    source = (
        "from __future__ import annotations\n"
        "import math, random, itertools, heapq, re\n"
        "from collections import deque\n"
        "from envfoundry import Environment, IntParam\n"
        "class A(Environment):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.n = getattr(self, 'n', 3)\n"
        "        label = type(self).__name__\n"
    )
    assert static_check(source) == []


def test_every_seed_environment_passes():
    folder = Path(envfoundry.envs.__file__).parent
    for path in sorted(p for p in folder.glob("*.py") if p.name != "__init__.py"):
        findings = static_check(path.read_text(), path.name)
        assert findings == [], f"{path.name}: {[str(f) for f in findings]}"


def test_syntax_errors_and_the_one_sentence_summary():
    (finding,) = static_check("def broken(:\n")
    assert finding.syntax and finding.line == 1
    assert describe_findings([finding], "bad.py").startswith("'bad.py' has a syntax error at line 1")
    findings = static_check("import os\nimport socket\nx = eval('1')\n")
    summary = describe_findings(findings, "evil.py")
    assert summary.startswith("'evil.py' was rejected before running: line 1: imports 'os'")
    assert "(and 2 more finding(s))" in summary
    assert static_check("x = '\0'\0\n")[0].message  # null bytes cannot be parsed, and say so
