"""Vetting reasoning-gym's datasets: the verdicts name why a dataset is unusable, each dataset is
vetted in its own interpreter, and the benchmark script prints the table and writes the JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("reasoning_gym")

from envfoundry.adapters import reasoning_gym as rg  # noqa: E402
from envfoundry.checks import reasoning_gym as vetting  # noqa: E402
from envfoundry.checks.battery import check_determinism_across_processes  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def vet_script(monkeypatch):
    """benchmarks/vet_reasoning_gym.py as a module (it imports results_json from its own folder)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("vet_reasoning_gym", BENCHMARKS / "vet_reasoning_gym.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cross_process_check_passes():
    result = check_determinism_across_processes(rg.make_environment("tsumego"), rg.env_name("tsumego"), (0, 1))
    assert result.passed, result.reason


def test_vetting_names_the_reason_a_dataset_is_unusable():
    assert vetting.vet_one("graph_color").startswith("no_reference:")  # its scorer checks colourings: no reference
    assert vetting.vet_one("arc_agi").startswith("json_round_trip:")
    assert vetting.failure_counts({"a": None, "b": "x: 1", "c": "x: 2", "d": "y: 3"}) == {"x": 2, "y": 1}


def test_a_dataset_that_runs_past_its_time_costs_only_its_own_verdict():
    # No interpreter imports envfoundry and reasoning-gym in 0.2 s: the child is stopped, and said so.
    assert vetting.vet(["chain_sum"], timeout_s=0.2) == {"chain_sum": "timeout: vetting took over 0.2 s"}


def test_the_vet_script_runs_each_dataset_in_a_child_and_writes_json(tmp_path, capsys, vet_script):
    out = tmp_path / "vet.json"
    assert vet_script.main(["--datasets", "caesar_cipher", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["vetted"] == 1 and report["passed"] == 0
    assert report["verdicts"]["caesar_cipher"].startswith("rg_error:")
    assert report["benchmark"] == "vet_reasoning_gym" and report["failures"] == {"rg_error": 1}
    assert "caesar_cipher" in capsys.readouterr().out
    assert vet_script.main(["--datasets", "no_such_dataset"]) == 2
    assert "unknown reasoning-gym dataset 'no_such_dataset'" in capsys.readouterr().err
