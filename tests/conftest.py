"""Shared fixtures: small environments written for the tests, sound and unsound; a chat-model
double; a real OpenAI-compatible server (``transformers serve``) for integration tests; one real ``envfoundry
train`` run that the training and report tests share (training is the suite's costliest step)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from envfoundry import Environment, IntParam, Score, answer_instruction
from envfoundry.core import parse_int
from envfoundry.llm.base import ChatModel, Completion


class ToySum(Environment):
    """Add up a list of numbers. A sound little environment used to test the machinery."""

    name = "toy_sum"
    asymmetry = "algorithmic"
    space = {"n": IntParam(2, 30), "max_value": IntParam(5, 1000, scale="log")}

    def generate(self, rng: random.Random, n: int, max_value: int) -> dict:
        return {"numbers": [rng.randint(1, max_value) for _ in range(n)]}

    def prompt(self, state: dict) -> str:
        return f"Add up: {' + '.join(map(str, state['numbers']))}. " + answer_instruction("42")

    def reference(self, state: dict) -> str:
        return str(sum(state["numbers"]))

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "not an integer")
        return Score(float(value == sum(state["numbers"])), metadata={"value": value})

    def complexity(self, state: dict) -> float:
        return float(len(state["numbers"]) * max(state["numbers"]))


@pytest.fixture
def toy() -> ToySum:
    return ToySum()


class ScriptedChat(ChatModel):
    """A chat-model double for unit tests of one piece (the model only): answers every conversation
    with ``reply(messages)`` and keeps the conversations it was asked in ``seen``."""

    name = "scripted"

    def __init__(self, reply) -> None:
        super().__init__()
        self.reply = reply
        self.seen: list[list[dict]] = []

    def chat(self, messages, **kwargs) -> Completion:
        self.seen.append(messages)
        return Completion(self.reply(messages), 1, 1, "stop")


@pytest.fixture
def scripted_chat() -> type[ScriptedChat]:
    return ScriptedChat


SERVED_MODEL = "smollm2"  # the model id the `openai_server` fixture serves the embedded model under


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory):
    """The base URL (``http://127.0.0.1:PORT/v1``) of a real OpenAI-compatible server: Hugging Face's
    ``transformers serve`` (FastAPI on uvicorn) serving the embedded SmolLM2-135M as ``smollm2``,
    started once for the whole session. The model is a directory named ``smollm2`` in the server's
    working directory (a link to the converted embedded model), which is what names it on the API."""
    pytest.importorskip("torch", reason="the server runs the model with torch (pip install -e '.[train]')")
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("needs transformers[serving] (the dev extra installs it)")
    from envfoundry.llm.embedded import embedded_model_dir

    home = tmp_path_factory.mktemp("openai-server")
    (home / SERVED_MODEL).symlink_to(embedded_model_dir(), target_is_directory=True)
    port = _free_port()
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "transformers.cli.transformers", "serve", SERVED_MODEL, "--host", "127.0.0.1",
         "--port", str(port), "--model-timeout", "86400", "--log-level", "warning"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                    if SERVED_MODEL in json.dumps(json.load(reply)):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("transformers serve did not come up: " + (home / "server.log").read_text()[-1500:])
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@dataclass(frozen=True)
class TrainRun:
    """A finished ``envfoundry train`` run: its directory, what it printed, and the options that
    made it (less ``--steps``), for a test that resumes a copy of it."""

    out: Path
    printed: str
    options: tuple[str, ...]


@pytest.fixture(scope="session")
def cli_train_run(tmp_path_factory) -> TrainRun:
    """``envfoundry train`` on the embedded model: a one-step format warm-up, one GRPO step (two
    groups of two), a checkpoint, held-out evaluation at two levels (base model, after the warm-up,
    after GRPO) and TensorBoard logs. Tests read it; one that resumes it works on a copy."""
    pytest.importorskip("torch", reason="training needs the train extra (pip install -e '.[train]')")
    from envfoundry.cli.main import main

    out = tmp_path_factory.mktemp("train-cli") / "run"
    options = ("--envs", "planted_subset_sum,countdown", "--max-completion-length", "8", "--save-steps", "1",
               "--group-size", "2", "--groups", "2")  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", *options, "--out", str(out), "--steps", "1", "--eval-seeds", "2",
                     "--eval-levels", "0,0.5", "--report-to", "tensorboard", "--warmup-steps", "1"])  # fmt: skip
    assert code == 0, printed.getvalue()[-2000:]
    return TrainRun(out, printed.getvalue(), options)
