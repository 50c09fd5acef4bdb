"""`envfoundry check`, `archive add|list|show|export`, and archived environments by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import envfoundry
from envfoundry.cli.main import main
from envfoundry.sandbox import SandboxedEnvironment

CORPUS = Path(__file__).parent / "corpus"
SOUND = sorted(p for p in CORPUS.glob("*.py") if p.read_text().startswith("# expect: admitted"))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def archive_dir(tmp_path, monkeypatch):
    root = tmp_path / "archive"
    monkeypatch.setenv("ENVFOUNDRY_ARCHIVE", str(root))
    return root


def test_check_prints_every_stage_as_json_and_exits_by_the_verdict(capsys, tmp_path):
    code, out, _ = run(capsys, "check", SOUND[0], "--json")
    report = json.loads(out)
    assert code == 0 and report["admitted"] is True
    assert [s["name"] for s in report["stages"]] == ["static", "execution", "novelty", "review", "calibration"]
    assert all({"name", "passed", "reason"} <= set(s) for s in report["stages"])
    assert [s["skipped"] for s in report["stages"]][-2:] == [True, True]
    broken = tmp_path / "broken.py"
    broken.write_text(SOUND[0].read_text().replace("def verify", "def verify_not"))
    code, out, _ = run(capsys, "check", broken)
    assert code == 1 and "[FAIL] static" in out and "missing method(s) verify" in out


def test_archive_add_list_show_export_and_make_by_name(capsys, archive_dir, tmp_path):
    code, out, _ = run(capsys, "archive", "add", SOUND[0])
    assert code == 0 and "added '" in out
    name = out.split("added '")[1].split("'")[0]
    code, out, _ = run(capsys, "archive", "add", SOUND[0])  # the same file again: rejected as not novel
    assert code == 1 and "novelty" in out
    code, out, _ = run(capsys, "archive", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and [env["name"] for env in listed] == [name]
    code, out, _ = run(capsys, "archive", "list", "--rejected")
    assert code == 0 and "novelty" in out
    code, out, _ = run(capsys, "archive", "show", name)
    assert code == 0 and name in out and "execution" in out
    code, out, _ = run(capsys, "archive", "export", tmp_path / "out")
    assert code == 0 and (tmp_path / "out" / f"{name}.py").read_text() == SOUND[0].read_text()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest and json.dumps(manifest).count(name) >= 1

    env = envfoundry.make(name)  # from the archive, by name, sandboxed
    try:
        assert isinstance(env, SandboxedEnvironment) and env.name == name
        instance = env.sample(3, level=0.5)
        assert env.score(instance, f"<answer>{instance.reference}</answer>").correct
    finally:
        env.close()
    with pytest.raises(ValueError, match="archived environments always run sandboxed"):
        envfoundry.make(name, sandbox=False)


def test_archive_commands_fail_cleanly(capsys, archive_dir, tmp_path):
    code, _, err = run(capsys, "archive", "list")
    assert code == 2 and "no archive at" in err
    code, _, err = run(capsys, "check", tmp_path / "missing.py")
    assert code == 2 and "cannot read" in err
    run(capsys, "archive", "add", SOUND[0])
    code, _, err = run(capsys, "archive", "show", "no_such_env")
    assert code == 2 and "no environment named 'no_such_env'" in err
    code, _, err = run(capsys, "synthesize", "--rounds", "0")
    assert code == 2 and "at least 1" in err
    code, _, err = run(capsys, "check", SOUND[0], "--llm", "http://127.0.0.1:9/v1")
    assert code == 2 and "model" in err
