"""``envfoundry eval`` end to end on real models: an OpenAI-compatible server (``transformers serve``) and the
embedded SmolLM2-135M, a handful of short replies each."""

from __future__ import annotations

import json

import pytest

from envfoundry.cli.main import main

SUITE = ["--suite", "edit_distance,rg:chain_sum", "--seeds", "2", "--levels", "0", "--max-tokens", "12"]


def _check(result, backend, model):
    assert (result["kind"], result["backend"], result["model"]) == ("eval", backend, model)
    assert result["envs"] == ["edit_distance", "rg:chain_sum"] and result["levels"] == [0.0]
    for cells in result["results"].values():
        cell = cells["0"]
        assert cell["n"] == 2 and cell["errors"] == 0  # every call answered
        assert len(cell["examples"]) == 2 - round(cell["pass_rate"] * 2)  # evidence for each failure
        assert all(example["reply"] for example in cell["examples"])
    usage = result["usage"]
    assert usage["requests"] == 4 and usage["failures"] == 0 and 4 <= usage["completion_tokens"] <= 4 * 12
    assert usage["prompt_tokens"] > 4 * 50  # the system prompt and the instance went in


def test_eval_through_an_openai_compatible_server(openai_server, capsys, tmp_path):
    pytest.importorskip("reasoning_gym")
    out = tmp_path / "eval.json"
    code = main(["eval", "--llm", openai_server, "--model", "smollm2", *SUITE, "--batch-size", "2", "--out", str(out),
                 "--json", "--quiet"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and json.loads(out.read_text()) == result
    _check(result, "openai", "smollm2")


def test_eval_of_the_embedded_model(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("reasoning_gym")
    assert main(["eval", *SUITE, "--json", "--quiet"]) == 0
    _check(json.loads(capsys.readouterr().out), "embedded", "smollm2-135m-instruct")


def test_a_checkpoint_made_elsewhere_is_named_by_its_directory(tmp_path):
    """As ``evolve`` passes its policy: an EmbeddedChat already made from a checkpoint directory."""
    pytest.importorskip("torch")
    from envfoundry.evaluate import run_eval
    from envfoundry.llm import embedded_model_dir, make_chat_model

    checkpoint = tmp_path / "final"
    checkpoint.mkdir()
    for file in embedded_model_dir().iterdir():  # the embedded weights under another directory's name
        (checkpoint / file.name).symlink_to(file)
    result = run_eval(make_chat_model(None, str(checkpoint)), suite="knapsack", levels=[0], seeds=1, max_tokens=2,
                      progress=False)  # fmt: skip
    assert (result["backend"], result["model"]) == ("embedded", str(checkpoint))
    assert result["usage"]["requests"] == 1 and result["results"]["knapsack"]["0"]["n"] == 1
