"""``envfoundry engineer``: the environment engineer's stage loop (LLM-as-Environment-Engineer).
Between RL stages an engineer reads how the policy behaves and writes the next stage's
configuration of the environment; it never writes instances. Each stage:

1. **training**: ``--steps-per-stage`` GRPO steps (``envfoundry train``) on the environment pinned to
   the stage's configuration (``curriculum.pool.PinnedEnvironment``), from the previous stage's
   policy; each stage draws new training instances (its own first seed);
2. **evaluation**: held-out instances (``evaluate.evaluate_envs``, greedy) of the configuration and
   its neighbours one step easier and harder in the probed dimension, and of the fixed validation
   configurations (the space at ``--validation-levels``, the same for every engineer);
3. **summary**: per cell, pass rate, reward and spread, failure classes with counts and failing
   replies; training's dead-group share and reward (``engineer.summaries``);
4. **proposal**: the engineer (``engineer.controllers``: the current checkpoint by default, any
   chat backend, or a baseline) writes the next configuration; it is checked, clamped into the
   parameter space and diffed; an unusable reply gets one repair, then the previous configuration
   stands (``engineer.proposal``).

The run directory (``--out``)::

    engineer.json        the run's settings, the environment's parameter space, the first configuration
    stages.jsonl         one line per finished stage: the configuration trained on, the training
                         statistics, the summary, the engineer's replies, rationale, clamps, the diff
                         and the next configuration (rewritten atomically after each stage)
    stage-N/train/       a train run directory (curriculum.jsonl, final/ = the stage's policy; its
                         resumption checkpoints are removed once training is done)
    stage-N/eval.json    the stage's held-out results per cell

Resumable (``--resume``) after a kill at any point: a stage is recorded only when it is whole; the
next one reuses a finished training or evaluation, continues training from its last checkpoint
(``train --resume``; with ``--save-steps``, else the stage trains again from its start), and asks
the engineer again (greedy, and every baseline is a function of the record, so it decides as
before).
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from envfoundry.core.files import read_jsonl, write_atomic, write_json_atomic
from envfoundry.core.params import ParamSpace
from envfoundry.curriculum import TRAIN_SEED_BASE, build_pool
from envfoundry.curriculum.pool import PinnedEnvironment
from envfoundry.engineer.controllers import BASELINES, Engineer, check_ablations, make_engineer
from envfoundry.engineer.proposal import StageContext, diff
from envfoundry.engineer.summaries import (
    current_cell,
    params_key,
    probe_cells,
    probe_dimension,
    summarise,
    training_statistics,
    validation_cells,
)
from envfoundry.errors import InvalidInputError
from envfoundry.evaluate import check_levels, evaluate_envs, make_backend
from envfoundry.train.run import TrainConfig, last_checkpoint, option, train

STATE = "engineer.json"
STAGES = "stages.jsonl"
STAGE_SEED_STRIDE = 10_000  # stage N trains on instance seeds from TRAIN_SEED_BASE + (N - 1) x this
# Settings a resumed run may change; any other must be what the run started with.
RESUMABLE = ("stages", "resume", "out", "batch_size", "save_steps")


@dataclass
class EngineerConfig:
    """Everything an engineer run is configured by (``engineer.json`` records it)."""

    env: str = option("mapf_frozenlake", "the environment whose configuration is engineered: a registered name, "
                      "rg:NAME or a file", metavar="NAME")  # fmt: skip
    stages: int = option(3, "stages to run (train, evaluate, propose each)")
    steps_per_stage: int = option(4, "GRPO steps per stage")
    out: str = option("runs/engineer", "the run directory", metavar="DIR")
    engineer: str = option("policy", "who writes the next configuration: policy (the current checkpoint), base (the "
                           "starting policy, untrained), embedded, a checkpoint directory, an OpenAI-compatible URL, "
                           "replay:FILE, or a baseline: fixed, heuristic, random, scaler")  # fmt: skip
    engineer_model: str | None = option(None, "the model id at the server, when --engineer is a URL", metavar="NAME")
    ablate: Sequence[str] | None = option(None, "context left out of a model engineer's prompt, comma-separated: failures, "
                                   "statistics, previous", metavar="PARTS")  # fmt: skip
    policy: str = option("embedded", "the policy trained: 'embedded' (SmolLM2-135M) or a checkpoint directory")
    start_level: float = option(0.0, "the first configuration: the parameter space at this level")
    start: Sequence[str] | None = option(None, "parameters of the first configuration set directly, NAME=VALUE, "
                                  "comma-separated (the others come from --start-level)", metavar="K=V")  # fmt: skip
    no_probe: bool = option(False, "evaluate only the configuration, not its neighbours one step easier and harder")
    eval_seeds: int = option(8, "held-out instances per cell (the configuration and its neighbours)")
    validation_levels: Sequence[float] = option((0.0, 0.5), "fixed validation configurations, the same for every "
                                                "engineer: the parameter space at these levels")  # fmt: skip
    validation_seeds: int = option(8, "held-out instances per validation configuration")
    group_size: int = option(4, "completions per prompt (a GRPO group)")
    groups_per_step: int = option(2, "groups per step", flag="--groups")
    max_completion_length: int = option(64, "tokens per completion (and per held-out answer)")
    learning_rate: float = option(1e-5, "GRPO learning rate")
    warmup_steps: int = option(0, "format warm-up steps (supervised, on references) before the first stage, on its "
                               "configuration")  # fmt: skip
    engineer_max_tokens: int = option(256, "tokens per reply of a model engineer")
    engineer_temperature: float = option(0.0, "sampling temperature of a model engineer (0: greedy)")
    batch_size: int = option(16, "held-out replies generated together")
    save_steps: int | None = option(None, "checkpoint every N training steps, to resume a stage killed mid-training "
                                    "(default: none; a killed stage trains again from its start)")  # fmt: skip
    seed: int = option(0, "seed of the curriculum, the sampler and the random engineer")
    resume: bool = option(False, "continue the run in --out where it stopped")

    def __post_init__(self) -> None:
        self.out = str(self.out)
        for name in ("stages", "steps_per_stage", "eval_seeds", "validation_seeds", "engineer_max_tokens",
                     "batch_size"):  # fmt: skip
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.start_level <= 1.0:
            raise InvalidInputError(f"start_level must be in [0, 1], got {self.start_level}")
        if self.engineer_temperature < 0:
            raise InvalidInputError(f"engineer_temperature must be 0 or more, got {self.engineer_temperature}")
        self.validation_levels = check_levels(self.validation_levels) if self.validation_levels else []
        self.ablate = list(check_ablations(self.ablate or ()))
        self.start = [str(item) for item in self.start or ()]
        if self.ablate and self.engineer in BASELINES:
            raise InvalidInputError(f"--ablate changes what a model engineer reads; the {self.engineer} baseline "
                                    "reads no prompt")  # fmt: skip
        if self.engineer.lower().startswith(("http://", "https://")) and not self.engineer_model:
            raise InvalidInputError(f"the engineer at {self.engineer} needs its model id (--engineer-model NAME)")
        if self.policy.lower().startswith(("http://", "https://", "replay:")):
            raise InvalidInputError("the policy is trained here: give 'embedded' or a checkpoint directory as "
                                    "--policy (a served model can be the engineer: --engineer URL)")  # fmt: skip
        self.train_config(Path(self.out), 1, {}, self.policy)  # bad training settings fail before anything runs

    def train_config(self, out: Path, stage: int, pins: Mapping[str, Any], model: str,
                     resume: bool = False) -> TrainConfig:  # fmt: skip
        """Stage ``stage``'s training: GRPO on the environment pinned to the configuration ``pins``.
        Without ``save_steps`` it keeps no resumption checkpoint (a save past the last step never
        comes): writing the model and optimizer state (about 1.6 GB for the 135M model) costs as much
        as a short stage's training, and a killed stage trains again from its start instead."""
        return TrainConfig(model=model, envs=self.env, params=[f"{key}={value}" for key, value in pins.items()],
                           controller="fixed", active_size=1, diversity="traits", steps=self.steps_per_stage,
                           out=str(out), group_size=self.group_size, groups_per_step=self.groups_per_step,
                           max_completion_length=self.max_completion_length, learning_rate=self.learning_rate,
                           eval_seeds=0, save_steps=self.save_steps or self.steps_per_stage + 1, seed=self.seed,
                           resume=resume,
                           warmup_steps=self.warmup_steps if stage == 1 else 0,
                           first_seed=TRAIN_SEED_BASE + (stage - 1) * STAGE_SEED_STRIDE)  # fmt: skip


def _settings(config: EngineerConfig) -> dict[str, Any]:
    values = asdict(config)
    values.pop("resume")
    return values


def resume_config(out: str | Path, overrides: Mapping[str, Any]) -> EngineerConfig:
    """The settings of the run in ``out`` (its ``engineer.json``) with ``overrides`` on top: how
    ``--resume`` continues a run without its options repeated."""
    path = Path(out) / STATE
    if not path.is_file():
        raise InvalidInputError(f"nothing to resume: no {STATE} in '{out}'")
    saved = json.loads(path.read_text())["config"]
    known = {f.name for f in fields(EngineerConfig)}
    return EngineerConfig(**{**{key: value for key, value in saved.items() if key in known}, **overrides,
                             "out": str(out), "resume": True})  # fmt: skip


# ----- the record -----------------------------------------------------------------------------------
def read_stages(out: str | Path) -> list[dict[str, Any]]:
    """The finished stages in ``out/stages.jsonl``, in order (a line that is not a stage ends them)."""
    path = Path(out) / STAGES
    records: list[dict[str, Any]] = []
    if not path.is_file():
        return records
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            break
        if not isinstance(record, dict) or record.get("stage") != len(records) + 1:
            break
        records.append(record)
    return records


def _write_stages(out: Path, records: Sequence[Mapping[str, Any]]) -> None:
    write_atomic(out / STAGES, "".join(json.dumps(record) + "\n" for record in records))


def _start_config(space: ParamSpace, config: EngineerConfig) -> dict[str, Any]:
    return space.resolve(config.start_level, space.parse(config.start))


def _load_state(out: Path, config: EngineerConfig, name: str, space: ParamSpace, start: dict[str, Any],
                engineer: Engineer) -> dict[str, Any]:  # fmt: skip
    path = out / STATE
    if path.is_file():
        if not config.resume:
            raise InvalidInputError(f"'{out}' holds an engineer run already: pass --resume to continue it, or "
                                    "another --out")  # fmt: skip
        state = json.loads(path.read_text())
        for key, value in _settings(config).items():
            if key not in RESUMABLE and state["config"].get(key) != value:
                raise InvalidInputError(f"'{out}' was run with {key}={state['config'].get(key)!r}, not {value!r}: "
                                        "resume it with its own settings")  # fmt: skip
        state["config"] = _settings(config)
    elif config.resume:
        raise InvalidInputError(f"nothing to resume: no {STATE} in '{out}'")
    else:
        state = {"kind": "engineer", "env": name, "engineer": engineer.name, "ablate": list(engineer.ablate),
                 "config": _settings(config), "space": space.json_schema(), "start": start}  # fmt: skip
    write_json_atomic(path, state)
    return state


# ----- the loop -------------------------------------------------------------------------------------
def run_engineer(config: EngineerConfig | None = None, *, engineer: Engineer | None = None, progress: bool = True,
                 **options: Any) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) the loop; returns ``engineer.json``'s content with ``"stages"``: every record.

    ``engineer``: an engineer to use instead of the one the config names (the Python API's way to
    plug in any ``Engineer``).
    """
    from tqdm.auto import tqdm

    config = config or EngineerConfig(**options)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with build_pool(config.env) as pool:
        if len(pool) != 1:
            raise InvalidInputError(f"the engineer configures one environment; '{config.env}' names {len(pool)}")
        name, env = next(iter(pool.envs.items()))
        space = env.parameter_space
        start = _start_config(space, config)
        engineer = engineer or make_engineer(config.engineer, model_name=config.engineer_model, policy=config.policy,
                                             ablate=config.ablate, max_tokens=config.engineer_max_tokens,
                                             temperature=config.engineer_temperature, start_level=config.start_level,
                                             batch_size=config.batch_size)  # fmt: skip
        state = _load_state(out, config, name, space, start, engineer)
        records = read_stages(out)[: config.stages]
        try:
            with tqdm(total=config.stages, initial=len(records), desc=f"engineer ({engineer.name})", unit="stage",
                      disable=not progress) as bar:  # fmt: skip
                for stage in range(len(records) + 1, config.stages + 1):
                    records.append(_stage(config, out, stage, name, env, records, engineer, start, bar))
                    _write_stages(out, records)
                    bar.update()
        finally:
            engineer.close()
    return {**state, "stages": records}


def _stage(config: EngineerConfig, out: Path, stage: int, name: str, env: Any, records: list[dict[str, Any]],
           engineer: Engineer, start: dict[str, Any], bar: Any) -> dict[str, Any]:  # fmt: skip
    space = env.parameter_space
    configuration = dict(records[-1]["next_config"]) if records else dict(start)
    policy = str(out / records[-1]["policy"]) if records else config.policy
    where = out / f"stage-{stage}"
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    bar.set_postfix_str(f"stage {stage}: training")
    summary = _train(config, where / "train", stage, name, configuration, policy)
    steps = read_jsonl(where / "train" / "curriculum.jsonl")
    training = training_statistics(summary, steps)
    seconds["train"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    bar.set_postfix_str(f"stage {stage}: evaluation")
    probe = None if config.no_probe else probe_dimension(space, configuration)
    cells = probe_cells(space, configuration, probe=not config.no_probe)
    validation = validation_cells(space, config.validation_levels)
    results = _saved_evaluation(where / "eval.json", {**cells, **validation})
    # The stage's policy, loaded only when something asks it (a resumed stage may need nothing of it).
    needs_policy = results is None or getattr(engineer, "uses_policy", False)
    chat = make_backend(None, str(where / "train" / "final"), batch_size=config.batch_size) if needs_policy else None
    if results is None:
        results = _evaluate(chat, env, cells, validation, config, where / "eval.json")
    stage_summary = summarise(stage, configuration, cells, validation, results, training, probe)
    seconds["eval"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    bar.set_postfix_str(f"stage {stage}: the engineer")
    history = [{"stage": r["stage"], "config": r["config"], "pass_rate": current_cell(r["summary"])["pass_rate"],
                "dead_group_share": r["summary"]["training"]["dead_group_share"]} for r in records]  # fmt: skip
    context = StageContext(stage, name, env.description, space, configuration, stage_summary, history, config.seed,
                           policy=chat)  # fmt: skip
    proposal = engineer.propose(context)
    seconds["engineer"] = round(time.perf_counter() - started, 1)
    del chat, context
    gc.collect()  # the stage's policy leaves memory before the next training loads it again
    return {
        "stage": stage,
        "config": configuration,
        "policy": str((where / "train" / "final").relative_to(out)),
        "summary": stage_summary,
        "engineer": {"name": engineer.name, "ablate": list(engineer.ablate), **proposal.to_dict()},
        "diff": diff(configuration, proposal.config),
        "next_config": proposal.config,
        "seconds": seconds,
    }


def _train(config: EngineerConfig, where: Path, stage: int, name: str, configuration: dict[str, Any],
           policy: str) -> dict[str, Any]:  # fmt: skip
    """The stage's training summary: from a finished training (its ``eval.json``), else by training
    (continuing from its last checkpoint when there is one)."""
    finished = where / "eval.json"
    if not (finished.is_file() and (where / "final" / "config.json").is_file()):
        pins = {f"{name}.{key}": value for key, value in configuration.items()}
        train(config.train_config(where, stage, pins, policy, resume=last_checkpoint(where) is not None))
    # The resumption checkpoints (model and optimizer state, about 1.6 GB each for the 135M model):
    # final/ is all the next stage reads.
    for checkpoint in where.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)
    return json.loads(finished.read_text())


def _saved_evaluation(path: Path, wanted: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """The cells' figures a killed run evaluated already (``stage-N/eval.json``), if it evaluated these."""
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return saved["cells"] if saved.get("params") == {label: params_key(p) for label, p in wanted.items()} else None


def _evaluate(chat: Any, env: Any, cells: Mapping[str, dict[str, Any]], validation: Mapping[str, dict[str, Any]],
              config: EngineerConfig, path: Path) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Every cell's held-out figures by label (``evaluate_envs``' per-level result), written to
    ``path``. A configuration listed twice with the same number of seeds (the current one may be a
    validation one) is evaluated once."""
    wanted = {**cells, **validation}
    keys = {label: params_key(params) for label, params in wanted.items()}
    seeds_of = {**dict.fromkeys(cells, config.eval_seeds), **dict.fromkeys(validation, config.validation_seeds)}
    by_seeds: dict[int, dict[str, str]] = {}  # seeds -> {configuration: the label evaluated for it}
    for label, seeds in seeds_of.items():
        by_seeds.setdefault(seeds, {}).setdefault(keys[label], label)
    evaluations = {}
    for seeds, unique in by_seeds.items():
        envs = {label: PinnedEnvironment(env, wanted[label]) for label in unique.values()}
        evaluations[seeds] = evaluate_envs(chat, envs, levels=[0.0], seeds=seeds,
                                           max_tokens=config.max_completion_length, batch_size=config.batch_size,
                                           progress=False)  # fmt: skip
    results = {label: evaluations[seeds]["results"][by_seeds[seeds][keys[label]]]["0"]
               for label, seeds in seeds_of.items()}  # fmt: skip
    write_json_atomic(path, {"params": keys, "cells": results,
                             "usage": [evaluation["usage"] for evaluation in evaluations.values()]})  # fmt: skip
    return results
