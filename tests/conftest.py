"""Shared fixtures: small environments written for the tests, sound and unsound; a chat-model
double; a real OpenAI-compatible server (llama.cpp's) for integration tests; one real ``envfoundry
train`` run that the training and report tests share (training is the suite's costliest step)."""

from __future__ import annotations

import contextlib
import io
import json
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


LLAMA_SERVER_MODEL = "smollm2"  # the model id the `llama_server` fixture serves the embedded GGUF under


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    """The base URL (``http://127.0.0.1:PORT/v1``) of llama.cpp's OpenAI-compatible server
    (llama-cpp-python) serving the embedded SmolLM2 GGUF as ``smollm2``, for one test module."""
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the dev extra installs it)")
    from envfoundry.llm.embedded import locate_gguf

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(locate_gguf()), "--model_alias", LLAMA_SERVER_MODEL,
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--verbose", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                    if LLAMA_SERVER_MODEL in json.dumps(json.load(reply)):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama.cpp's server did not come up")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


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
