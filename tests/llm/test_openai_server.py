"""The OpenAI-compatible backend against a real server: Hugging Face's ``transformers serve``
serving the embedded SmolLM2-135M on 127.0.0.1, and the model stages of validation driven through it."""

from __future__ import annotations

import json
from pathlib import Path

from envfoundry.cli.main import main
from envfoundry.llm import OpenAIChat

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
MODEL = "smollm2"  # the id the `openai_server` fixture (tests/conftest.py) serves the embedded model under


def test_chat_and_batches_against_a_real_server(openai_server):
    model = OpenAIChat(openai_server, MODEL, concurrency=2, api_key="not-needed")
    reply = model.chat([{"role": "user", "content": "What is 2 + 2? Answer with a number."}], max_tokens=16,
                       temperature=0.0)  # fmt: skip
    assert reply.text.strip() and reply.prompt_tokens > 5 and 0 < reply.completion_tokens <= 16
    many = model.chat_many([[{"role": "user", "content": f"Say the word {w}."}] for w in ("red", "blue", "green")],
                           max_tokens=8, temperature=0.0)  # fmt: skip
    assert len(many) == 3 and all(getattr(r, "text", None) is not None for r in many)
    assert model.usage.requests == 4 and model.usage.completion_tokens > 0


def test_check_runs_review_and_calibration_through_the_server(openai_server, capsys):
    sound = sorted(p for p in CORPUS.glob("admitted_*.py"))[0]
    code = main(["check", str(sound), "--llm", openai_server, "--model", MODEL, "--max-tokens", "24", "--json"])
    report = json.loads(capsys.readouterr().out)
    stages = {s["name"]: s for s in report["stages"]}
    assert stages["review"]["skipped"] is False and len(stages["review"]["verdicts"]) == 3
    assert all(v in ("accept", "reject", "abstain") for v in stages["review"]["verdicts"])
    if stages["review"]["passed"]:  # a 135M reviewer rarely accepts; when it does, the solver runs
        assert stages["calibration"]["skipped"] is False and set(stages["calibration"]["curve"]) == {
            "0.0", "0.25", "0.5", "0.75", "1.0"}  # fmt: skip
    assert code == (0 if report["admitted"] else 1)
