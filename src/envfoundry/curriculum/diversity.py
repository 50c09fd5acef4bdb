"""How alike two environments are, so that entrants to the active set can be chosen unlike the
environments already in it (a few task patterns dominating is one way RL on many environments stalls).

``EmbeddingSimilarity`` embeds each environment's *task text* — its description and a template of
a few of its prompts (``similarity.prompt_template``: numbers and data folded away, so the task's
wording is what counts) — with all-MiniLM-L6-v2 (the ``train`` extra) and compares them by
cosine. Prompts recorded in the archive at admission are used as they are; other environments are
sampled at level 0.5. Without the model, ``make_similarity`` returns None and the curriculum falls
back to family and kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.similarity import Embedder, prompt_template

PROMPT_SEEDS = range(4)
PROMPT_LEVEL = 0.5


def task_text(env: Any, seeds: Sequence[int] = PROMPT_SEEDS) -> str:
    """An environment's description plus the template of a few of its prompts."""
    prompts = list(getattr(env, "prompts", None) or [])
    if not prompts:
        was_open = getattr(env, "is_open", True)
        prompts = [instance.prompt for instance in env.sample_many(list(seeds), level=PROMPT_LEVEL)]
        if not was_open:
            env.release()  # started only to read its prompts
    description = getattr(env, "description", "") or ""
    return f"{description.strip()}\n\n{prompt_template(prompts)}".strip()


class EmbeddingSimilarity:
    """``similarity(a, b)``: cosine of the MiniLM embeddings of two environments' task texts."""

    method = "embeddings"

    def __init__(self, envs: Mapping[str, Any], embedder: Any = None) -> None:
        if embedder is None:
            embedder = Embedder()
        self.names = list(envs)
        self.texts = {name: task_text(env) for name, env in envs.items()}
        vectors = embedder.encode_documents([self.texts[name] for name in self.names])
        self._row = {name: index for index, name in enumerate(self.names)}
        self._cosines = vectors @ vectors.T

    def __call__(self, a: str, b: str) -> float:
        return float(self._cosines[self._row[a], self._row[b]])


def make_similarity(envs: Mapping[str, Any], method: str = "auto", active_size: int | None = None) -> Any:
    """``"embeddings"`` (needs the train extra), ``"traits"`` (family and kind: None here), or
    ``"auto"``: embeddings when the model is installed and the pool is larger than the active set
    (with no inactive environment there is no entrant to choose, and loading MiniLM costs ~15 s)."""
    if method not in ("auto", "embeddings", "traits"):
        raise InvalidInputError(f"diversity must be auto, embeddings or traits, got {method!r}")
    if method == "traits":
        return None
    available, why = Embedder.available()
    if method == "embeddings" and not available:
        raise InvalidInputError(f"diversity by embeddings needs the embedding model: {why}")
    if method == "auto" and (not available or (active_size is not None and len(envs) <= active_size)):
        return None
    return EmbeddingSimilarity(envs)
