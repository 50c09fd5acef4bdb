"""Held-out evaluation of a chat model: pass rate per environment and level.

The instances are fixed: seeds ``0 .. n-1`` at each level (``held_out_seeds``), the seeds
``train``'s own held-out evaluation uses, so the figures line up with a training run's
``eval.json``; training draws its seeds from ``TRAIN_SEED_BASE`` (1,000,000) up and the format
warm-up from twice that, so no held-out instance was ever trained on. The prompting is training's:
``SYSTEM_PROMPT`` as the system message, the instance's prompt as the user message, greedy
decoding (temperature 0), ``max_tokens`` 64 like ``max_completion_length``.

Every conversation of the suite (environment x level x seed) goes through ``ChatModel.chat_many``
in chunks of ``batch_size``, shortest prompts first: one generation batch for the embedded model,
that many requests in flight for a server. A failed call, an instance that cannot be sampled or a
reply that cannot be scored counts as an error and as a failure in the rates; nothing is retried
here (the server backend retries on its own) and nothing stops the run.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envfoundry.core.files import write_json_atomic
from envfoundry.curriculum import TRAIN_SEED_BASE
from envfoundry.errors import InvalidInputError
from envfoundry.evaluate.suites import resolve_suite, suite_items
from envfoundry.llm import ChatModel, Completion, EmbeddedChat, OpenAIChat, make_chat_model
from envfoundry.train.grpo import SYSTEM_PROMPT

DEFAULT_LEVELS = (0.0, 0.5, 1.0)
DEFAULT_SEEDS = 8  # train's eval_seeds
DEFAULT_MAX_TOKENS = 64  # train's max_completion_length
DEFAULT_BATCH_SIZE = 16
EXAMPLES_PER_CELL = 2  # failing replies kept per environment and level, as evidence
EXAMPLE_CHARS = 300  # each kept reply (and reference) cut to this many characters


def held_out_seeds(n: int) -> range:
    """Seeds ``0 .. n-1``: the held-out instances at every level (the same on every run and in
    ``train``'s evaluation). Training seeds start at ``TRAIN_SEED_BASE``, so these never overlap."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"seeds must be a whole number of at least 1, got {n!r}")
    if n > TRAIN_SEED_BASE:
        raise InvalidInputError(f"seeds must be at most {TRAIN_SEED_BASE:,}: training draws its instances from "
                                f"seed {TRAIN_SEED_BASE:,} up")  # fmt: skip
    return range(n)


def check_levels(levels: Sequence[float]) -> list[float]:
    """The levels as floats, duplicates dropped; each must be in [0, 1]."""
    try:
        values = [float(level) for level in levels]
    except (TypeError, ValueError):
        raise InvalidInputError(f"levels must be numbers in [0, 1], got {levels!r}") from None
    if not values or any(math.isnan(v) or not 0.0 <= v <= 1.0 for v in values):
        shown = ", ".join(f"{v:g}" for v in values) or "none"
        raise InvalidInputError(f"levels must be numbers in [0, 1], got {shown}")
    return list(dict.fromkeys(values))


def _check_counts(max_tokens: int, batch_size: int) -> None:
    if max_tokens < 1:
        raise InvalidInputError(f"max_tokens must be at least 1, got {max_tokens}")
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")


def _clip(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


@dataclass
class _Item:
    """One held-out instance (or why there is none) and what became of it."""

    seed: int
    instance: Any = None
    reply: str | None = None
    error: str | None = None  # why it has no verdict: sampling, the model call or scoring failed
    verdict: Any = None


@dataclass
class _Cell:
    """One environment at one level."""

    env: str
    level: float
    items: list[_Item] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        n = len(self.items)
        scored = [item.verdict for item in self.items if item.verdict is not None]
        examples = []
        for item in self.items:
            if len(examples) == EXAMPLES_PER_CELL:
                break
            if item.verdict is not None and item.verdict.correct:
                continue
            example = {"seed": item.seed, "reply": _clip(item.reply or ""),
                       "reason": item.error or item.verdict.reason,
                       "failure": "error" if item.verdict is None else item.verdict.failure}  # fmt: skip
            if item.instance is not None:
                example["reference"] = _clip(item.instance.reference)
            examples.append(example)
        # Why the others failed, by the verdicts' failure classes; an instance without a verdict is "error".
        failures: dict[str, int] = {}
        for item in self.items:
            failure = "error" if item.verdict is None else item.verdict.failure
            if failure is not None:
                failures[failure] = failures.get(failure, 0) + 1
        rewards = [v.reward for v in scored] + [0.0] * (n - len(scored))
        return {
            "pass_rate": sum(v.correct for v in scored) / n,
            "format_rate": sum(v.format_ok for v in scored) / n,
            "mean_reward": sum(v.reward for v in scored) / n,
            "reward_std": statistics.pstdev(rewards),
            "n": n,
            "errors": n - len(scored),
            "failures": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
            "examples": examples,
        }


@contextlib.contextmanager
def _opened(env: Any) -> Iterator[Any]:
    """Use ``env``; a pool entry (``LazyEnvironment``) that was not running before is released
    after, so a suite of hundreds of sandboxed environments keeps one running at a time."""
    was_open = getattr(env, "is_open", True)
    try:
        yield env
    finally:
        if not was_open:
            env.release()


def _sample(env: Any, seeds: Sequence[int], level: float) -> list[_Item]:
    """The held-out instances at ``level``: in one call where possible, else seed by seed, so
    one seed the environment cannot sample costs only that instance."""
    from envfoundry.sandbox import SandboxUnavailable

    try:
        return [_Item(seed, instance) for seed, instance in zip(seeds, env.sample_many(list(seeds), level=level),
                                                                strict=True)]  # fmt: skip
    except SandboxUnavailable:
        raise  # no environment that needs the sandbox can run: the user must fix that, not read zeros
    except Exception:  # noqa: BLE001 - sampled again one by one below, to keep every seed that works
        pass
    items = []
    for seed in seeds:
        try:
            items.append(_Item(seed, env.sample(seed, level=level)))
        except Exception as exc:  # noqa: BLE001 - a broken environment is a result, not a crash
            items.append(_Item(seed, error=f"sampling failed: {type(exc).__name__}: {exc}"))
    return items


def _conversation(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]


def _generate(model: ChatModel, items: list[_Item], max_tokens: int, batch_size: int, progress: bool) -> None:
    """Every item's reply (or error), shortest prompts first so a batch pads little."""
    from tqdm.auto import tqdm

    pending = sorted((item for item in items if item.error is None), key=lambda item: len(item.instance.prompt))
    with tqdm(total=len(pending), desc=f"eval {model.name}", unit="reply", disable=not progress) as bar:
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            try:
                results: list[Any] = model.chat_many([_conversation(item.instance.prompt) for item in chunk],
                                                     max_tokens=max_tokens, temperature=0.0)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - chat_many should not raise; if one does, the chunk failed
                results = [exc] * len(chunk)
            for item, result in zip(chunk, results, strict=True):
                if isinstance(result, Completion):
                    item.reply = result.text
                else:
                    message = str(result).strip().splitlines()[0] if str(result).strip() else type(result).__name__
                    item.error = f"model call failed: {message}"
            bar.update(len(chunk))


def _score(env: Any, cell: _Cell) -> None:
    answered = [item for item in cell.items if item.error is None]
    if not answered:
        return
    try:
        verdicts = env.score_many([item.instance for item in answered], [item.reply for item in answered])
    except Exception as exc:  # noqa: BLE001 - score never raises for a reply; a broken environment might
        for item in answered:
            item.error = f"scoring failed: {type(exc).__name__}: {exc}"
        return
    for item, verdict in zip(answered, verdicts, strict=True):
        item.verdict = verdict


def _usage_since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: round(after[key] - before[key], 3) if key == "seconds" else after[key] - before[key]
            for key in after}  # fmt: skip


def evaluate_envs(
    model: ChatModel,
    envs: Mapping[str, Any],
    *,
    levels: Sequence[float] = DEFAULT_LEVELS,
    seeds: int = DEFAULT_SEEDS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = True,
) -> dict[str, Any]:
    """Pass rate per environment and level of ``model`` on the held-out instances (seeds
    ``0 .. seeds-1`` at each level), greedy, with training's prompting.

    Returns ``{"results": {env: {"<level:g>": cell}}, "pass_rate", "format_rate", "mean_reward",
    "n", "errors", "seconds", "usage"}``; a cell is ``{"pass_rate", "format_rate" (share of replies
    with an answer block), "mean_reward", "reward_std" (the rewards' spread), "n", "errors",
    "failures" (count per failure class of the verdicts, ``Verdict.failure``; ``error``: no
    verdict), "examples"}`` where ``examples`` holds the first failing replies (``seed``,
    ``reply``, ``reason``, ``failure``, ``reference``; cut short). The overall
    rates are means over the cells, so every environment and level weighs the same. ``usage`` is
    what this evaluation cost the model (``Usage.to_dict`` counts, this call's share only).
    """
    levels = check_levels(levels)
    held_out = held_out_seeds(seeds)
    _check_counts(max_tokens, batch_size)
    if not envs:
        raise InvalidInputError("there are no environments to evaluate")
    started = time.perf_counter()
    usage_before = model.usage.to_dict()
    cells: list[_Cell] = []
    for name, env in envs.items():
        with _opened(env):
            cells += [_Cell(name, level, _sample(env, held_out, level)) for level in levels]
    _generate(model, [item for cell in cells for item in cell.items], max_tokens, batch_size, progress)
    for name, env in envs.items():
        with _opened(env):
            for cell in cells:
                if cell.env == name:
                    _score(env, cell)
    results: dict[str, dict[str, Any]] = {}
    for cell in cells:
        results.setdefault(cell.env, {})[f"{cell.level:g}"] = cell.summary()
    summaries = [summary for by_level in results.values() for summary in by_level.values()]
    return {
        "results": results,
        "pass_rate": sum(s["pass_rate"] for s in summaries) / len(summaries),
        "format_rate": sum(s["format_rate"] for s in summaries) / len(summaries),
        "mean_reward": sum(s["mean_reward"] for s in summaries) / len(summaries),
        "n": sum(s["n"] for s in summaries),
        "errors": sum(s["errors"] for s in summaries),
        "seconds": round(time.perf_counter() - started, 3),
        "usage": _usage_since(usage_before, model.usage.to_dict()),
    }


def backend_name(model: ChatModel) -> str:
    """``embedded``, ``openai``, or the class name of any other chat model."""
    if isinstance(model, EmbeddedChat):
        return "embedded"
    if isinstance(model, OpenAIChat):
        return "openai"
    return type(model).__name__


def make_backend(spec: str | None, model_name: str | None = None, *, batch_size: int = DEFAULT_BATCH_SIZE) -> ChatModel:
    """The chat model ``make_chat_model`` gives for ``spec`` (None or ``embedded``: SmolLM2, or the
    checkpoint directory ``model_name``; an http(s) URL: that server, ``model_name`` its model id),
    generating ``batch_size`` replies at a time (on a GPU when there is one, for the embedded model)."""
    if _embedded(spec):
        if model_name is not None and model_name.strip().lower() == "embedded":
            model_name = None
        from envfoundry.train.device import use_cuda

        return make_chat_model(None, model_name, batch_size=batch_size, device="cuda" if use_cuda() else "cpu")
    if spec.lower().startswith(("http://", "https://")):
        return make_chat_model(spec, model_name, concurrency=batch_size)
    return make_chat_model(spec, model_name)  # replay:FILE, or the one-sentence error for an unknown spec


def _embedded(spec: str | None) -> bool:
    return spec is None or spec.strip().lower() in ("", "embedded")


def _check_backend(spec: str | None, model_name: str | None) -> None:
    """A server without a model id, caught before the suite is built (``make_chat_model`` judges the rest)."""
    if not _embedded(spec) and spec.lower().startswith(("http://", "https://")) and not model_name:
        raise InvalidInputError(f"the server at {spec} needs the model's id there (--model NAME)")


def model_label(model: ChatModel, model_name: str | None = None) -> str:
    """What the results call the model: the server's model id, or for the embedded backend the
    checkpoint directory it loaded (``smollm2-135m-instruct`` for the default one)."""
    if isinstance(model, EmbeddedChat):
        if model_name:
            return str(model_name)
        from envfoundry.llm import embedded_model_dir

        loaded = str(getattr(model.model, "name_or_path", "") or "")
        if loaded and Path(loaded).resolve() != embedded_model_dir().resolve():
            return loaded
    return str(model.name)


def run_eval(
    model_spec: str | ChatModel | None,
    *,
    model_name: str | None = None,
    suite: str,
    levels: Sequence[float] = DEFAULT_LEVELS,
    seeds: int = DEFAULT_SEEDS,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """``envfoundry eval``: evaluate a model on a suite (``evaluate.suites``) and return the results
    (written to ``out`` as JSON too, atomically, when given).

    ``model_spec`` is None or ``"embedded"`` (SmolLM2-135M, or the checkpoint directory
    ``model_name``, e.g. a training run's ``final/``), an OpenAI-compatible server's base URL
    (``model_name`` is its model id), or a ``ChatModel`` already made. Settings are checked, and
    the suite built, before any model loads. The result::

        {"kind": "eval", "model", "backend": "embedded" | "openai", "suite", "envs": [...],
         "levels": [...], "seeds", "max_tokens", "batch_size",
         "results": {env: {"<level:g>": {"pass_rate", "format_rate", "mean_reward", "reward_std", "n",
                                          "errors", "failures": {class: count},
                                          "examples": [{"seed", "reply", "reason", "failure",
                                                        "reference"}]}}},
         "pass_rate", "format_rate", "mean_reward", "n", "errors", "seconds", "usage"}
    """
    levels = check_levels(levels)
    held_out_seeds(seeds)
    _check_counts(max_tokens, batch_size)
    suite_items(suite)
    if not isinstance(model_spec, ChatModel):
        _check_backend(model_spec, model_name)
        if _embedded(model_spec) and model_name is not None and model_name.strip().lower() == "embedded":
            model_name = None
    with resolve_suite(suite) as pool:
        model = model_spec if isinstance(model_spec, ChatModel) else make_backend(model_spec, model_name,
                                                                                  batch_size=batch_size)  # fmt: skip
        evaluation = evaluate_envs(model, pool.envs, levels=levels, seeds=seeds, max_tokens=max_tokens,
                                   batch_size=batch_size, progress=progress)  # fmt: skip
        result = {
            "kind": "eval", "model": model_label(model, model_name), "backend": backend_name(model), "suite": suite,
            "envs": list(pool.envs), "levels": levels, "seeds": seeds, "max_tokens": max_tokens,
            "batch_size": batch_size, **evaluation,
        }  # fmt: skip
    if out is not None:
        write_json_atomic(out, result)
    return result
