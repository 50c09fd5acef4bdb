"""The layering contract in pyproject.toml (import-linter): it holds for the code, and it catches a
lower layer that imports a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is in the dev extra")


def lint(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=src.parent,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_the_code_keeps_its_layers():
    result = lint(ROOT / "src")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "higher", "layer"), [
    ("core/registry.py", "envfoundry.resolve", "envfoundry.resolve"),  # core reaching up (the old cycle)
    ("core/params.py", "envfoundry.train.run", "envfoundry.train"),
    ("sandbox/pool.py", "envfoundry.archive", "envfoundry.archive"),
    ("similarity/template.py", "envfoundry.synth.stages.novelty", "envfoundry.synth"),
])  # fmt: skip
def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path, module, higher, layer):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "envfoundry", src / "envfoundry", ignore=shutil.ignore_patterns("__pycache__"))
    target = src / "envfoundry" / module
    # inside a function, where only a full import graph sees it
    target.write_text(target.read_text() + f"\n\ndef _reach_up():\n    import {higher}  # noqa\n")
    result = lint(src)
    assert result.returncode != 0 and "BROKEN" in result.stdout
    assert f"is not allowed to import {layer}:" in result.stdout
