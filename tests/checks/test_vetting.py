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
    assert vetting.vet_one("rush_hour").startswith("no_reference:")  # its scorer checks solutions; none is known
    assert vetting.vet_one("needle_haystack").startswith("no_leak:")
    assert vetting.failure_counts({"a": None, "b": "x: 1", "c": "x: 2", "d": "y: 3"}) == {"x": 2, "y": 1}


def test_a_dataset_that_runs_past_its_time_costs_only_its_own_verdict():
    # No interpreter imports envfoundry and reasoning-gym in 0.2 s: the child is stopped, and said so.
    assert vetting.vet(["chain_sum"], timeout_s=0.2) == {"chain_sum": "timeout: vetting took over 0.2 s"}


def test_the_vet_script_runs_each_dataset_in_a_child_and_writes_json(tmp_path, capsys, vet_script):
    out = tmp_path / "vet.json"
    assert vet_script.main(["--datasets", "rush_hour,word_sorting", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["vetted"] == 2 and report["passed"] == 1
    assert report["verdicts"]["rush_hour"].startswith("no_reference:") and report["verdicts"]["word_sorting"] is None
    assert report["benchmark"] == "vet_reasoning_gym" and report["failures"] == {"no_reference": 1}
    # word_sorting is scored by envfoundry (reasoning-gym's scorer took a shotgun): the two are compared.
    compared = report["scorer_disagreements"]["word_sorting"]
    assert compared["both"] > 0 and compared["tried"] >= compared["both"] + compared["ours_only"] + compared["theirs_only"]
    printed = capsys.readouterr().out
    assert "rush_hour" in printed and "ours vs reasoning-gym's scorer" in printed
    assert vet_script.main(["--datasets", "no_such_dataset"]) == 2
    assert "unknown reasoning-gym dataset 'no_such_dataset'" in capsys.readouterr().err


def test_calibration_finds_the_levels_reasoning_gym_accepts():
    """caesar_cipher's curriculum tops out at a rotation its own config rejects: calibration lowers
    that attribute's highest index until level 1 works, in a fresh interpreter."""
    found = vetting.calibrate(["caesar_cipher"])["caesar_cipher"]
    env = rg.make_environment("caesar_cipher")
    tops = {a.param: a.top for a in env.attributes}
    assert found["changed"] and found["ranges"]["rotation"][1] < tops["rotation"]
    assert any(line.startswith("rotation up to") and "rotation must be in range" in line for line in found["log"])


def test_recorded_ranges_give_datasets_that_sample_at_both_ends():
    recorded = rg.vetting()["ranges"]
    assert recorded, "the recorded vetting measured level ranges for the datasets that need them"
    for dataset, ranges in sorted(recorded.items())[:6]:
        env = rg.make_environment(dataset)
        tops = {a.param: a.top for a in env.attributes}
        for param, (low, high) in ranges.items():
            assert 0 <= low <= high <= tops[param]
            assert (env.space[param].low, env.space[param].high) == (low, high)
        if rg.vetting()["verdicts"].get(dataset) is None:
            assert env.sample(0, level=1.0).reference and env.sample(0, level=0.0).reference
