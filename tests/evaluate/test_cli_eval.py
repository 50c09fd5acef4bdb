"""``envfoundry eval``: the table, --json, --out, the backend settings and bad input, with a scripted
model in place of the one the command would build."""

from __future__ import annotations

import json

import pytest

import envfoundry
from envfoundry.cli.main import main


def _device() -> str:
    from envfoundry.train.device import use_cuda

    return "cuda" if use_cuda() else "cpu"


@pytest.fixture
def built(monkeypatch, scripted_chat):
    """Every model the command builds: (spec, model name, settings); each answers edit_distance right."""
    env = envfoundry.make("edit_distance")
    references = {env.sample(seed, level=level).prompt: env.sample(seed, level=level).reference
                  for seed in range(3) for level in (0.0, 1.0)}  # fmt: skip
    calls = []

    def factory(spec, model=None, **settings):
        calls.append((spec, model, settings))
        return scripted_chat(lambda messages: f"<answer>{references.get(messages[-1]['content'], 'x')}</answer>")

    monkeypatch.setattr("envfoundry.evaluate.run.make_chat_model", factory)
    return calls


def test_table_and_json(built, capsys, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["eval", "--suite", "edit_distance,knapsack", "--levels", "0,1", "--seeds", "3", "--batch-size", "4",
                 "--out", str(out), "--quiet"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert "held-out pass rate" in lines[0] and "3 instances (seeds 0-2)" in lines[0]
    assert lines[1].split() == ["environment", "level", "0", "level", "1"]
    assert lines[2].split() == ["edit_distance", "100%", "(100%)", "100%", "(100%)"]
    assert lines[3].split() == ["knapsack", "0%", "(100%)", "0%", "(100%)"]  # answered 'x': a block, wrong
    assert lines[4].startswith("overall: 50.0% passed, 100.0% with an answer block") and lines[5] == f"results in {out}"
    assert built == [(None, None, {"batch_size": 4, "device": _device()})]  # the embedded model, batches of 4
    saved = json.loads(out.read_text())
    assert saved["results"]["edit_distance"]["1"]["pass_rate"] == 1.0 and saved["levels"] == [0.0, 1.0]

    assert main(["eval", "--llm", "http://127.0.0.1:9/v1", "--model", "qwen", "--suite", "edit_distance",
                 "--levels", "1", "--seeds", "2", "--json", "--quiet"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert built[-1] == ("http://127.0.0.1:9/v1", "qwen", {"concurrency": 16})  # requests in flight
    assert result["kind"] == "eval" and result["pass_rate"] == 1.0 and result["seeds"] == 2 and result["envs"] == [
        "edit_distance"]  # fmt: skip


def test_a_checkpoint_directory_is_the_embedded_backend(built, capsys, tmp_path):
    assert main(["eval", "--model", str(tmp_path), "--suite", "edit_distance", "--levels", "0", "--seeds", "1",
                 "--json", "--quiet"]) == 0  # fmt: skip
    assert built == [(None, str(tmp_path), {"batch_size": 16, "device": _device()})]
    main(["eval", "--model", "embedded", "--suite", "edit_distance", "--levels", "0", "--seeds", "1", "--quiet"])
    assert built[-1][:2] == (None, None)


@pytest.mark.parametrize(("argv", "message"), [
    (["--suite", "no_such_env"], "unknown environment 'no_such_env'"),
    (["--suite", ","], "the suite is empty"),
    (["--levels", "0,1.5"], "levels must be numbers in [0, 1], got 0, 1.5"),
    (["--levels", "easy"], "--levels takes comma-separated numbers in [0, 1] (e.g. 0,0.5,1), got 'easy'"),
    (["--seeds", "0"], "seeds must be a whole number of at least 1, got 0"),
    (["--max-tokens", "0"], "max_tokens must be at least 1, got 0"),
    (["--llm", "http://127.0.0.1:9/v1"], "the server at http://127.0.0.1:9/v1 needs the model's id there (--model NAME)"),
])  # fmt: skip
def test_bad_input_is_one_line_and_builds_no_model(built, capsys, argv, message):
    assert main(["eval", "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("envfoundry: error: ") and message in err and err.count("\n") == 1
    assert built == []


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "missing-dir"], "The embedded backend runs smollm2-135m-instruct or a model directory; 'missing-dir' is"),
    (["--llm", "ollama"], "Unknown chat model spec 'ollama'"),
])  # fmt: skip
def test_a_model_that_cannot_be_made_is_one_line(capsys, argv, message):
    pytest.importorskip("torch")
    assert main(["eval", *argv, "--suite", "knapsack", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"envfoundry: error: {message}") and err.count("\n") == 1
