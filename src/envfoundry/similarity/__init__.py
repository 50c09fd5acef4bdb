"""How alike two environments are: the measures shared by synthesis and the curriculum.

The novelty stage (``synth.stages.novelty``) uses them to turn away copies and close variants of a
seed or an archived environment; the curriculum (``curriculum.diversity``) to bring in entrants unlike
the active set. One job per module:

* ``fingerprint``: the structural fingerprint (same code up to names and prose) and the structural
  similarity (shingles of the normalised AST), model-free;
* ``template``: ``prompt_template``, an environment's prompts with the data folded away;
* ``embedder``: ``Embedder``, all-MiniLM-L6-v2 for texts of any length (the ``train`` extra);
* ``index``: ``NoveltyIndex``, the reference environments a candidate is scored against.

This package sits above ``sandbox`` and below ``archive``: it imports ``core`` and ``envs`` only
(the seeds, to index them), never synthesis, the archive, the curriculum or training.
"""

from envfoundry.similarity.embedder import (
    CHUNK_TOKENS,
    MODEL_LABEL,
    MODEL_PACKAGE,
    Embedder,
    EmbeddingModelMissingError,
)
from envfoundry.similarity.fingerprint import (
    SHINGLE_SIZE,
    structural_fingerprint,
    structural_similarity,
    structural_tokens,
)
from envfoundry.similarity.index import CODE_MODES, EmbedderTypeError, IndexSettingError, NoveltyIndex, code_text
from envfoundry.similarity.template import prompt_template

__all__ = [
    "CHUNK_TOKENS",
    "CODE_MODES",
    "MODEL_LABEL",
    "MODEL_PACKAGE",
    "SHINGLE_SIZE",
    "Embedder",
    "EmbedderTypeError",
    "EmbeddingModelMissingError",
    "IndexSettingError",
    "NoveltyIndex",
    "code_text",
    "prompt_template",
    "structural_fingerprint",
    "structural_similarity",
    "structural_tokens",
]
