"""``envfoundry export verl``: a pool of environments as verl's RL dataset, and the reward function
verl calls on it.

The dataset is the Parquet layout of verl's "Prepare Data for Post-Training" (its
``examples/data_preprocess/gsm8k.py``), one row per instance:

==================  ===============================================================================
``data_source``     ``envfoundry/NAME``: verl groups validation metrics by it, so each environment
                    gets its own curve
``prompt``          the chat: ``[{"role": "user", "content": instance.prompt}]`` (a system message
                    first with ``system``)
``ability``         the environment's family (``reasoning`` without one)
``reward_model``    ``{"style": "rule", "ground_truth": instance.to_json()}``: the label is the
                    whole instance, which the reward function scores with its environment (the
                    label the HTTP reward service takes too)
``extra_info``      ``{"split", "index", "env", "version", "seed", "level", "params", "instance"}``:
                    ``instance`` is the serialised instance again (``instance.to_json()``, for
                    reward functions of your own that read ``extra_info``); ``params`` is JSON text
                    (a struct column needs one schema for every environment)
==================  ===============================================================================

``DIR/reward.py`` is ``verl_reward.py`` with ``SOURCES`` filled in: environments from files or the
archive are copied to ``DIR/envs/NAME.py`` and made from there, sandboxed, so the directory is
everything a training cluster needs besides an installed envfoundry. Training instances use seeds
from ``TRAIN_SEED_BASE`` (plus ``seed``), validation instances the held-out seeds from 0, so the two
never share an instance; levels cycle through ``levels``. ``DIR/manifest.json`` records what was
written and how each environment is made.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from envfoundry.core.files import write_atomic
from envfoundry.core.registry import read_source
from envfoundry.curriculum import TRAIN_SEED_BASE
from envfoundry.curriculum.pool import build_pool
from envfoundry.errors import EnvfoundryError, InvalidInputError
from envfoundry.export import verl_reward

COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")
DATA_SOURCE_PREFIX = "envfoundry/"
DEFAULT_LEVELS = (0.0, 0.5, 1.0)
TRAIN_FILE, TEST_FILE, REWARD_FILE, MANIFEST_FILE, ENVS_DIR = (
    "train.parquet", "test.parquet", "reward.py", "manifest.json", "envs")  # fmt: skip
# Environments that run sandboxed and are made from a copy of their source in the export.
COPIED_ORIGINS = ("file", "archive")


class ExportError(EnvfoundryError, RuntimeError):
    """An environment of the pool failed while its instances were sampled."""


def arrow_schema() -> Any:
    """The Parquet schema: verl's columns, with struct fields in a fixed order."""
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("env", pa.string()),
                                  ("version", pa.int64()), ("seed", pa.int64()), ("level", pa.float64()),
                                  ("params", pa.string()), ("instance", pa.string())])),
    ])  # fmt: skip


def row(instance: Any, *, split: str, index: int, ability: str, system: str | None = None) -> dict[str, Any]:
    """One dataset row for ``instance`` (the columns above)."""
    prompt = [{"role": "system", "content": system}] if system else []
    prompt.append({"role": "user", "content": instance.prompt})
    label = instance.to_json()
    extra_info = {"split": split, "index": index, "env": instance.env, "version": instance.version,
                  "seed": instance.seed, "level": instance.level, "params": json.dumps(instance.params, sort_keys=True),
                  "instance": label}  # fmt: skip
    return {
        "data_source": DATA_SOURCE_PREFIX + instance.env,
        "prompt": prompt,
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": label},
        "extra_info": extra_info,
    }


def plan(n: int, levels: Sequence[float], first_seed: int) -> dict[float, list[int]]:
    """Level -> seeds for ``n`` instances: instance ``i`` has seed ``first_seed + i`` and the level
    ``levels[i % len(levels)]``."""
    out: dict[float, list[int]] = {level: [] for level in levels}
    for i in range(n):
        out[levels[i % len(levels)]].append(first_seed + i)
    return out


def export_verl(envs: str | Sequence[str], out: str | os.PathLike[str], *, n: int, levels: Sequence[float] = DEFAULT_LEVELS,
                seed: int = 0, val_n: int = 0, system: str | None = None, sandbox_workers: int = 1,
                progress: bool = True) -> dict[str, Any]:  # fmt: skip
    """Write ``n`` training instances per environment of the pool ``envs`` (the curriculum's pool
    spec), ``val_n`` validation instances per environment with ``val_n`` > 0, and the reward module,
    into ``out``; returns the manifest. ``sandbox_workers``: sandbox processes per sandboxed
    environment in each of verl's reward workers."""
    pq = _pyarrow_parquet()
    levels = _check(n, levels, seed, val_n, sandbox_workers)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"'{out}' exists and is not a directory")
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    entries, sources = [], {}
    with build_pool(envs) as pool, tqdm(total=len(pool), desc="export", unit="env", disable=not progress) as bar:
        for name, lazy in pool.envs.items():
            env = lazy.env
            ability = getattr(env, "family", "") or "reasoning"
            made_from = name
            if lazy.origin in COPIED_ORIGINS:
                made_from = f"{ENVS_DIR}/{_file_name(name)}"
                sources[name] = (made_from, read_source(env.source_label))
            counts = {}
            for split, count, first in (("train", n, TRAIN_SEED_BASE + seed), ("test", val_n, 0)):
                for instance in _sample(env, name, plan(count, levels, first)):
                    rows[split].append(row(instance, split=split, index=len(rows[split]), ability=ability,
                                           system=system))  # fmt: skip
                counts[split] = count
            entries.append({"name": name, "origin": lazy.origin, "data_source": DATA_SOURCE_PREFIX + name,
                            "made_from": made_from, "train": counts["train"], "test": counts["test"]})  # fmt: skip
            lazy.release()
            bar.update()
    out.mkdir(parents=True, exist_ok=True)
    if sources:
        (out / ENVS_DIR).mkdir(exist_ok=True)
    for relative, text in sources.values():
        _write_text(out / relative, text)
    _write_text(out / REWARD_FILE, reward_module({name: relative for name, (relative, _) in sources.items()},
                                                 sandbox_workers))  # fmt: skip
    files = [TRAIN_FILE, REWARD_FILE] + ([TEST_FILE] if val_n else [])
    for split, file in (("train", TRAIN_FILE), ("test", TEST_FILE)):
        if split == "train" or val_n:
            _write_parquet(pq, rows[split], out / file)
    manifest = {
        "format": "verl", "columns": list(COLUMNS), "files": files, "envs": entries, "n": n, "val_n": val_n,
        "levels": levels, "seed": seed, "train_seeds_from": TRAIN_SEED_BASE + seed, "system": system,
        "rows": {"train": len(rows["train"]), "test": len(rows["test"])}, "sandbox_workers": sandbox_workers,
    }  # fmt: skip
    _write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest


def reward_module(sources: dict[str, str], sandbox_workers: int = 1) -> str:
    """The text of ``DIR/reward.py``: ``verl_reward.py`` with ``SOURCES`` and ``SANDBOX_WORKERS`` set."""
    text = read_source(verl_reward.__file__)
    for line, value in (("SOURCES: dict[str, str] = {}", "SOURCES: dict[str, str] = " + json.dumps(sources, indent=4,
                                                                                              sort_keys=True)),
                        ("SANDBOX_WORKERS = 1", f"SANDBOX_WORKERS = {int(sandbox_workers)}")):  # fmt: skip
        if text.count(line + "\n") != 1:
            raise AssertionError(f"verl_reward.py must hold the line {line!r} exactly once")
        text = text.replace(line + "\n", value + "\n")
    return text


def _check(n: int, levels: Sequence[float], seed: int, val_n: int, sandbox_workers: int) -> list[float]:
    for label, value, least in (("n", n, 1), ("val_n", val_n, 0), ("seed", seed, 0),
                                ("sandbox_workers", sandbox_workers, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidInputError(f"{label} must be a whole number of at least {least}, got {value!r}")
    try:
        values = [float(level) for level in levels]
    except (TypeError, ValueError):
        raise InvalidInputError(f"levels must be numbers in [0, 1], got {levels!r}") from None
    if not values or any(math.isnan(v) or not 0.0 <= v <= 1.0 for v in values):
        raise InvalidInputError(
            f"levels must be numbers in [0, 1], got {', '.join(f'{v:g}' for v in values) or 'none'}"
        )
    if val_n > TRAIN_SEED_BASE:
        raise InvalidInputError(f"val_n must be at most {TRAIN_SEED_BASE:,}: training draws its instances from seed "
                                f"{TRAIN_SEED_BASE:,} up")  # fmt: skip
    return list(dict.fromkeys(values))


def _sample(env: Any, name: str, seeds_by_level: dict[float, list[int]]) -> list[Any]:
    """The planned instances in seed order; a failure is an ``ExportError`` naming the environment."""
    instances = []
    for level, seeds in seeds_by_level.items():
        if not seeds:
            continue
        try:
            instances += env.sample_many(seeds, level=level)
        except (ValueError, EnvfoundryError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"sampling '{name}' at level {level:g} failed: {first}") from None
    return sorted(instances, key=lambda instance: instance.seed)


def _file_name(name: str) -> str:
    """A file name for an environment's copied source (``rg:`` and other namespaces flattened)."""
    return re.sub(r"[^a-z0-9_]", "_", name) + ".py"


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInputError("exporting for verl needs pyarrow: pip install 'envfoundry[verl]'") from None
    return pq


def _write_parquet(pq: Any, rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa

    table = pa.Table.from_pylist(rows, schema=arrow_schema())
    write_atomic(path, lambda handle: pq.write_table(table, handle))


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text)
