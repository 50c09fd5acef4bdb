"""The index of reference environments (seeds, archive) that a candidate is compared with.

``NoveltyIndex.score`` gives, against the nearest reference, the structural duplicate (same
``structural_fingerprint``), the structural similarity, and, with the embedder, the mixed similarity
``0.5 * cos(code) + 0.5 * cos(prompt template)`` (code alone when either side has no prompts).
Without the model it reports the structural similarity as the similarity and says why. The verdict
(thresholds, what blocks a candidate) belongs to the novelty stage, not here.

The code is embedded in chunks (``Embedder.encode_chunks``); the prompt template's vector is the
normalised mean of its chunks (a template is one to three chunks). The code cosine is, by default
(``code_mode="chunks"``), the mean over the chunks of both codes of each chunk's best cosine with a
chunk of the other code (BERTScore-style matching). The plain cosine of the codes' mean chunk vectors
(``code_mode="mean"``) squeezes every pair of environments into 0.58-0.91 because the shared Python
and Environment vocabulary dominates the mean: with it, expression_eval reaches 0.793 mixed against
countdown (their code shares an arithmetic-expression parser: code cosine 0.91, higher than a
paraphrase's 0.87), a hair under the 0.80 that the seeds must pass. Chunk matching rewards
near-identical passages and not a shared topic: the closest seed pair drops to 0.68 (sliding_puzzle
vs grid_maze), while a paraphrase of planted_subset_sum still scores 0.83 and a renamed copy 0.90
(tests/synth/test_novelty.py prints these figures).
"""

from __future__ import annotations

import ast
import inspect
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envfoundry.errors import EnvfoundryError
from envfoundry.similarity.embedder import Embedder, unit
from envfoundry.similarity.fingerprint import jaccard, structural_fingerprint, structural_tokens, token_shingles
from envfoundry.similarity.template import prompt_template

# The prompts the seed index samples per seed: these seeds at these levels.
SEED_SAMPLE_SEEDS = (0, 1, 2)
SEED_SAMPLE_LEVELS = (0.2, 0.8)
# How two codes' MiniLM vectors are compared; see the module docstring.
CODE_MODES = ("chunks", "mean")


class IndexSettingError(EnvfoundryError, ValueError):
    """A ``NoveltyIndex`` was asked for a code mode it does not know."""


class EmbedderTypeError(EnvfoundryError, TypeError):
    """A ``NoveltyIndex`` was given something other than ``"auto"``, an ``Embedder`` or None as its embedder."""


def code_text(source: str) -> str:
    """The code as MiniLM reads it: ``ast.unparse`` of the source, so comments and formatting are
    gone but docstrings (the task in words) stay; the raw source when it does not parse.

    Of the variants tried on the seeds (raw source; this; also without docstrings and annotations;
    also without imports), this one separated paraphrases from distinct seeds best, in both code modes.
    """
    try:
        return ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return source


@dataclass
class _Entry:
    """One reference environment and what it is compared by (vectors filled in lazily)."""

    key: str
    source: str
    prompts: list[str]
    template: str
    fingerprint: str | None
    shingles: set[int]
    path: str | None = None
    vectors: dict[str, Any] = field(default_factory=dict)


class NoveltyIndex:
    """Reference environments (seeds, archive) a candidate is compared with.

    ``embedder``: ``"auto"`` (MiniLM when installed, else the structural fallback), an ``Embedder``,
    or ``None`` (structural only). ``code_mode``: how the cosine of two codes is taken, ``"chunks"``
    (default: the mean over both codes' chunks of each chunk's best cosine in the other code) or
    ``"mean"`` (the cosine of the two codes' mean chunk vectors); see the module docstring.
    Reference embeddings are computed once, in one batch, on the first ``score`` after ``add``.
    """

    def __init__(self, embedder: Embedder | str | None = "auto", code_mode: str = "chunks") -> None:
        if code_mode not in CODE_MODES:
            raise IndexSettingError(f"code_mode must be one of {', '.join(CODE_MODES)}, got {code_mode!r}")
        self.code_mode = code_mode
        self.fallback_reason: str | None = None
        if isinstance(embedder, str) and embedder == "auto":
            ok, why = Embedder.available()
            embedder = Embedder() if ok else None
            if not ok:
                self.fallback_reason = why
        elif embedder is None:
            self.fallback_reason = "no embedding model was given"
        elif not isinstance(embedder, Embedder):
            raise EmbedderTypeError(f"embedder must be 'auto', an Embedder or None, got {embedder!r}")
        self.embedder: Embedder | None = embedder
        self.entries: dict[str, _Entry] = {}
        self._pending: list[str] = []

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def keys(self) -> list[str]:
        return list(self.entries)

    def add(self, key: str, source: str, prompts: Sequence[str] = (), path: str | None = None) -> None:
        """Add (or replace) a reference environment. ``path``: the file it came from, so that the
        same file checked as a candidate is not compared with itself."""
        prompts = [p for p in prompts if isinstance(p, str)]
        try:
            fingerprint: str | None = structural_fingerprint(source)
            shingles = token_shingles(structural_tokens(source))
        except (SyntaxError, ValueError, RecursionError):
            fingerprint, shingles = None, set()
        self.entries[key] = _Entry(
            key,
            source,
            prompts,
            prompt_template(prompts),
            fingerprint,
            shingles,
            os.path.realpath(path) if path else None,
        )
        self._pending.append(key)

    def self_keys(self, source: str, path: str | None) -> list[str]:
        """Keys of the entries that *are* this file: the same path and the same text (a copy of a
        seed elsewhere is compared with that seed; the seed's own file is not)."""
        if not path:
            return []
        real = os.path.realpath(path)
        return [e.key for e in self.entries.values() if e.path == real and e.source == source]

    @classmethod
    def for_seeds(
        cls, exclude: str | None = None, embedder: Embedder | str | None = "auto", code_mode: str = "chunks"
    ) -> NoveltyIndex:
        """An index of the seed library (keys ``seed:<name>``), ``exclude`` (a seed name) left out.

        Seeds are trusted package code: their prompts are sampled in this process
        (``SEED_SAMPLE_SEEDS`` at ``SEED_SAMPLE_LEVELS``).
        """
        index = cls(embedder, code_mode=code_mode)
        for name, source, prompts, path in _seed_material():
            if name != exclude:
                index.add(f"seed:{name}", source, prompts, path=path)
        return index

    def _embed_pending(self) -> None:
        if self.embedder is None or not self._pending:
            return
        entries = [self.entries[key] for key in dict.fromkeys(self._pending) if key in self.entries]
        code = self.embedder.encode_chunks([code_text(e.source) for e in entries])
        with_prompts = [e for e in entries if e.template]
        prompt = self.embedder.encode_documents([e.template for e in with_prompts])
        for entry, chunks in zip(entries, code, strict=True):
            entry.vectors["code_chunks"] = chunks
            entry.vectors["code"] = unit(chunks.mean(axis=0))
        for entry, vector in zip(with_prompts, prompt, strict=True):
            entry.vectors["prompt"] = vector
        self._pending = []

    def score(
        self, source: str, prompts: Sequence[str] = (), exclude: str | Iterable[str] | None = None
    ) -> dict[str, Any]:
        """How close ``source`` (with its sampled ``prompts``) comes to the nearest reference.

        ``similarity`` is the largest mixed similarity (MiniLM: 0.5 code + 0.5 prompt template, or
        code alone when either side has no prompts; structural: ``structural_similarity``);
        ``nearest`` its key; ``code_similarity`` / ``prompt_similarity`` the parts for that key;
        ``structural_similarity`` the largest structural similarity (reported by both methods);
        ``duplicate_of`` a key with the same structural fingerprint (or None).
        ``SyntaxError`` when ``source`` does not parse.
        """
        excluded = {exclude} if isinstance(exclude, str) else set(exclude or ())
        entries = [e for e in self.entries.values() if e.key not in excluded]
        fingerprint = structural_fingerprint(source)
        shingles = token_shingles(structural_tokens(source))
        template = prompt_template(prompts)
        result: dict[str, Any] = {
            "method": "structural",
            "similarity": 0.0,
            "nearest": None,
            "code_similarity": None,
            "prompt_similarity": None,
            "structural_similarity": 0.0,
            "duplicate_of": next((e.key for e in entries if e.fingerprint == fingerprint), None),
            "fallback_reason": self.fallback_reason,
            "compared": len(entries),
            "prompts_used": bool(template),
        }
        if self.embedder is not None:
            result.update(method="minilm", fallback_reason=None, code_mode=self.code_mode)
        if not entries:
            return result
        structural = [jaccard(shingles, e.shingles) for e in entries]
        result["structural_similarity"] = round(max(structural), 4)
        if self.embedder is not None:
            try:
                self._embed_pending()
                result.update(self._minilm(source, template, entries))
                return result
            except Exception as exc:  # noqa: BLE001 - a broken model install degrades to the fallback
                self.fallback_reason = f"the embedding model failed ({type(exc).__name__}: {exc})"
                self.embedder = None
                result.pop("code_mode", None)
                result.update(method="structural", fallback_reason=self.fallback_reason)
        best = max(range(len(entries)), key=structural.__getitem__)
        result.update(
            similarity=round(structural[best], 4), nearest=entries[best].key, code_similarity=round(structural[best], 4)
        )
        return result

    def _code_similarities(self, chunks: Any, entries: list[_Entry]) -> Any:
        """Cosine of the candidate's code with each entry's, as ``code_mode`` says."""
        import numpy as np

        if self.code_mode == "mean":
            return np.stack([e.vectors["code"] for e in entries]) @ unit(chunks.mean(axis=0))
        reference = np.concatenate([e.vectors["code_chunks"] for e in entries])
        sizes = np.array([len(e.vectors["code_chunks"]) for e in entries])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        cosines = reference @ chunks.T  # (reference chunks, candidate chunks)
        # Each reference chunk's best match in the candidate, averaged per entry ...
        forward = np.add.reduceat(cosines.max(axis=1), starts) / sizes
        # ... and each candidate chunk's best match in the entry, averaged.
        backward = np.maximum.reduceat(cosines, starts, axis=0).mean(axis=1)
        return 0.5 * (forward + backward)

    def _minilm(self, source: str, template: str, entries: list[_Entry]) -> dict[str, Any]:
        assert self.embedder is not None
        (chunks,) = self.embedder.encode_chunks([code_text(source)])
        code = self._code_similarities(chunks, entries)
        prompt_vector = self.embedder.encode_documents([template])[0] if template else None
        best, best_value, parts = None, -2.0, (0.0, None)
        for i, entry in enumerate(entries):
            code_sim = float(code[i])
            prompt_sim = None
            if prompt_vector is not None and "prompt" in entry.vectors:
                prompt_sim = float(entry.vectors["prompt"] @ prompt_vector)
                mixed = 0.5 * code_sim + 0.5 * prompt_sim
            else:
                mixed = code_sim
            if mixed > best_value:
                best, best_value, parts = entry.key, mixed, (code_sim, prompt_sim)
        return {
            "similarity": round(best_value, 4),
            "nearest": best,
            "code_similarity": round(parts[0], 4),
            "prompt_similarity": None if parts[1] is None else round(parts[1], 4),
        }


_SEED_LOCK = threading.Lock()
_SEED_MATERIAL: list[tuple[str, str, list[str], str | None]] | None = None


def _seed_material() -> list[tuple[str, str, list[str], str | None]]:
    """(name, source, sampled prompts, file) of every seed, computed once per process."""
    global _SEED_MATERIAL
    with _SEED_LOCK:
        if _SEED_MATERIAL is None:
            from envfoundry.core import get_class
            from envfoundry.envs import seed_names

            material = []
            for name in seed_names():
                cls = get_class(name)
                path = inspect.getsourcefile(cls)
                if path is None:
                    continue
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                env = cls()  # in this process: the seeds are the package's own code
                prompts = [
                    env.sample(seed, level=level).prompt for level in SEED_SAMPLE_LEVELS for seed in SEED_SAMPLE_SEEDS
                ]
                material.append((name, source, prompts, path))
            _SEED_MATERIAL = material
        return list(_SEED_MATERIAL)
