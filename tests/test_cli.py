import json
import subprocess
import sys
from pathlib import Path

import pytest

from envfoundry.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_show(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and "planted_subset_sum" in out and "environments." in out
    code, out, _ = run(capsys, "list", "--json")
    listing = json.loads(out)
    assert code == 0 and {"name", "asymmetry", "description", "parameters"} <= set(listing[0])
    code, out, _ = run(capsys, "show", "planted_subset_sum")
    assert code == 0 and "n: integer in [4, 40] (larger is harder)" in out and "log scale" in out
    code, out, _ = run(capsys, "show", "planted_subset_sum", "--json")
    shown = json.loads(out)
    assert shown["parameters"]["properties"]["order"]["enum"] == ["sorted", "shuffled"]
    assert shown["levels"]["1.0"]["n"] == 40


def test_sample_formats_levels_and_params(capsys):
    code, out, _ = run(capsys, "sample", "planted_subset_sum", "--level", "1", "--n", "3", "--seed", "5", "--jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [x["seed"] for x in lines] == [5, 6, 7] and all(x["params"]["n"] == 40 for x in lines)
    code, out, _ = run(capsys, "sample", "planted_subset_sum", "--param", "n=6", "--param", "order=sorted", "--json")
    (instance,) = json.loads(out)
    assert instance["params"]["n"] == 6 and instance["params"]["order"] == "sorted"
    code, out, _ = run(capsys, "sample", "planted_subset_sum")
    assert code == 0 and "--- reference:" in out and "<answer>" in out


def test_score_reads_instances_from_files_and_stdin(capsys, tmp_path, monkeypatch):
    _, out, _ = run(capsys, "sample", "planted_subset_sum", "--n", "2", "--jsonl")
    first, second = (json.loads(line) for line in out.splitlines())
    single = tmp_path / "one.json"
    single.write_text(json.dumps(first))
    many = tmp_path / "many.jsonl"
    many.write_text(out)
    code, out, _ = run(
        capsys,
        "score",
        "planted_subset_sum",
        "--instance",
        str(single),
        "--response",
        f"<answer>{first['reference']}</answer>",
        "--json",
    )
    assert code == 0 and json.loads(out)["reward"] == 1.0
    code, out, _ = run(
        capsys,
        "score",
        "planted_subset_sum",
        "--instance",
        str(many),
        "--index",
        "1",
        "--response",
        second["reference"],
        "--bare",
    )
    assert code == 0 and "reward=1 correct=True" in out
    monkeypatch.setattr(sys, "stdin", __import__("io").StringIO("<answer>1 2</answer>"))
    code, out, _ = run(capsys, "score", "planted_subset_sum", "--instance", str(single), "--response", "-")
    assert code == 0 and "reward=0" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "no_such_env"], "unknown environment 'no_such_env'"),
        (["sample", "planted_subset_sum", "--level", "3"], "level must be in [0, 1]"),
        (["sample", "planted_subset_sum", "--param", "n=400"], "'n' must be in [4, 40]"),
        (["sample", "planted_subset_sum", "--param", "size=4"], "unknown parameter 'size'"),
        (["sample", "planted_subset_sum", "--n", "0"], "--n must be at least 1"),
        (
            ["score", "planted_subset_sum", "--instance", "/no/such/file", "--response", "x"],
            "cannot read instance file",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_bad_instance_files(capsys, tmp_path):
    cases = {
        "garbage.json": ("{not json", "neither JSON nor JSON Lines"),
        "empty.json": ("[]", "holds no instances"),
        "partial.json": ('{"env": "planted_subset_sum"}', "missing field"),
        "two.jsonl": ('{"a": 1}\n{"b": 2}\n', "holds 2 instances; choose one with --index"),
    }
    for filename, (text, message) in cases.items():
        path = tmp_path / filename
        path.write_text(text)
        code, _, err = run(capsys, "score", "planted_subset_sum", "--instance", str(path), "--response", "x")
        assert code == 2 and message in err, filename
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    code, _, err = run(capsys, "score", "planted_subset_sum", "--instance", str(binary), "--response", "x")
    assert code == 2 and "cannot read instance file" in err


def test_score_refuses_an_instance_of_another_environment(capsys, tmp_path, toy):
    path = tmp_path / "toy.json"
    path.write_text(toy.sample(0).to_json())
    code, _, err = run(capsys, "score", "planted_subset_sum", "--instance", str(path), "--response", "x")
    assert code == 2 and "belongs to environment 'toy_sum'" in err


def test_the_installed_command_runs_and_fails_cleanly():
    script = Path(sys.executable).parent / "envfoundry"
    ok = subprocess.run([str(script), "list", "--json"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)
    bad = subprocess.run(
        [sys.executable, "-m", "envfoundry", "sample", "nope"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and bad.stderr.startswith("envfoundry: error: unknown environment 'nope'")


def test_tour_writes_json_and_passes(capsys, tmp_path):
    out_file = tmp_path / "tour.json"
    code, out, _ = run(capsys, "tour", "--seeds", "3", "--out", str(out_file))
    rows = json.loads(out_file.read_text())
    assert code == 0 and "ref ok" in out
    assert {r["reference_pass_rate"] for r in rows} == {1.0}
    assert {r["level"] for r in rows} == {0.0, 0.5, 1.0}


def test_doctor_proves_the_isolation(capsys):
    from envfoundry.sandbox import isolation

    if isolation._detect().kind != "bubblewrap":
        pytest.skip("needs bubblewrap (tests/sandbox/test_isolation.py covers the doctor without it)")
    code, out, _ = run(capsys, "doctor", "--json")
    report = json.loads(out)
    names = {check["name"]: check["passed"] for check in report["checks"]}
    assert {"worker starts", "network", "host files hidden", "environment scrubbed", "rlimits"} <= set(names)
    assert report["isolation"] == "bubblewrap" and code == 0 and report["healthy"] and all(names.values())
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "isolation: bubblewrap" in out and "[ok] worker starts" in out


def test_environment_files_run_in_the_sandbox_unless_trusted(capsys, tmp_path):
    path = tmp_path / "evil.py"
    path.write_text("import socket\n")
    code, _, err = run(capsys, "sample", str(path))
    assert code == 2 and "was rejected before running: line 1: imports 'socket'" in err
    seed_file = str(Path(__file__).parents[1] / "src/envfoundry/envs/planted_subset_sum.py")
    outputs = []
    for extra in ([], ["--trust"]):
        code, out, _ = run(capsys, "sample", seed_file, "--n", "3", "--jsonl", *extra)
        assert code == 0
        outputs.append(out)
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 3
