"""``envfoundry evolve``: the self-evolving loop (EvoEnv). One policy constructs environments and
solves them, stage after stage:

1. **synthesis**: the generator proposes environments (new, a mutation of an admitted one, a
   repair of a rejected one) from the seeds and the run's archive; staged validation admits or
   rejects each with its reason (the policy is the calibration solver), and each gets EvoEnv's
   generator reward (``evolve.generator``). With ``--generator policy`` and a local policy that
   reward trains the policy with GRPO;
2. **training**: GRPO through TRL (``envfoundry.train``) on a curriculum over the seeds plus every
   admitted environment, seed environments at least 20% of each batch (pool rotation);
3. **evaluation**: held-out pass rates on a fixed suite (``envfoundry.evaluate``); stage 0 is the
   policy before any training. The next stage starts from this stage's checkpoint.

The run directory (``--out``)::

    evolve.json            config, progress and one summary per stage (rewritten atomically)
    archive/               the run's archive: every candidate with its stage reports and lineage
    stage-N/generator/     the policy after GRPO on the generator role (``--generator policy``)
    stage-N/train/         a ``train`` run directory (curriculum.jsonl, final/; its checkpoints
                           are removed once the phase is recorded: nothing resumes into it then)
    eval/stage-N.json      ``envfoundry eval`` results after stage N (stage-0: before)

Resumable (``--resume``) after a kill at any point: every finished phase is recorded in
``evolve.json`` before the next starts; a synthesis phase cut short proposes only what its stage
still owes (every candidate already judged is in the archive, in one transaction each); a training
phase continues from its last checkpoint (``train --resume``), or starts over without one.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from envfoundry.archive import Archive
from envfoundry.core.files import write_json_atomic
from envfoundry.errors import InvalidInputError
from envfoundry.evaluate import run_eval
from envfoundry.evolve import generator as gen
from envfoundry.llm import ChatModel, make_chat_model
from envfoundry.synth.synthesize import synthesize
from envfoundry.train.run import EVAL_LEVELS, TrainConfig, last_checkpoint, option, train

STATE = "evolve.json"
PHASES = ("synthesis", "train", "eval")


@dataclass
class EvolveConfig:
    """Everything an evolve run is configured by (``--config FILE`` gives any of these as JSON or TOML)."""

    policy: str = option("embedded", "the policy: 'embedded' (SmolLM2-135M) or a checkpoint directory, trained "
                         "each stage; or an OpenAI-compatible server's URL (evaluated and used as the solver, not "
                         "trained)")  # fmt: skip
    policy_model: str | None = option(None, "the model id at the server, when --policy is a URL", metavar="NAME")
    generator: str = option("policy", "who writes environments: 'policy' (the policy itself; trained with GRPO on "
                            "EvoEnv's reward when local), 'embedded', a checkpoint directory, a server URL or "
                            "replay:FILE")  # fmt: skip
    generator_model: str | None = option(None, "the model id at the server, when --generator is a URL", metavar="NAME")
    stages: int = option(2, "stages to run (synthesis, training, evaluation each)")
    out: str = option("runs/evolve", "the run directory", metavar="DIR")
    envs: str = option("seeds", "the training pool besides the run's archive (a pool spec, as for train)",
                       metavar="SPEC")  # fmt: skip
    proposals: int = option(4, "environments proposed per stage")
    generator_group_size: int = option(4, "modules per proposal prompt when the policy is trained as the generator "
                                       "(a GRPO group)")  # fmt: skip
    generator_max_tokens: int = option(512, "tokens per generated module")
    generator_learning_rate: float = option(1e-6, "GRPO learning rate of the generator role")
    examples: int = option(
        1, "seed environments shown in each generator prompt (0: the contract alone, a prompt about a third as long)"
    )
    example_chars: int = option(6_000, "seed environments shown to the generator are at most this long")
    steps: int = option(2, "GRPO steps of the solver role per stage")
    group_size: int = option(4, "completions per prompt (a GRPO group)")
    groups_per_step: int = option(2, "groups per step", flag="--groups")
    max_completion_length: int = option(64, "tokens per completion (and per held-out answer)")
    learning_rate: float = option(1e-5, "GRPO learning rate of the solver role")
    active_size: int = option(16, "environments active at once")
    controller: str = option("scaler", "how each environment's difficulty moves", choices=["scaler", "rlve", "fixed"])
    save_steps: int | None = option(None, "checkpoint every N training steps (default: at the end of each phase)")
    eval_suite: str | None = option(None, "the held-out suite evaluated before and after every stage (default: "
                                    "--envs)", metavar="SUITE")  # fmt: skip
    eval_seeds: int = option(4, "held-out instances per environment and level")
    eval_levels: tuple[float, ...] = option(EVAL_LEVELS, "levels to evaluate at, comma-separated")
    seed: int = option(0, "seed of the proposer, the curriculum and the sampler")
    resume: bool = option(False, "continue the run in --out where it stopped")

    def __post_init__(self) -> None:
        self.out = str(self.out)
        self.eval_levels = tuple(float(level) for level in self.eval_levels)
        for name in ("stages", "proposals", "generator_max_tokens", "steps", "eval_seeds", "example_chars"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.examples < 0:
            raise InvalidInputError(f"examples must be 0 or more, got {self.examples}")
        if self.generator_group_size < 2:
            raise InvalidInputError(f"generator_group_size must be at least 2 (GRPO compares modules), "
                                    f"got {self.generator_group_size}")  # fmt: skip
        if _is_url(self.policy) and not self.policy_model:
            raise InvalidInputError(f"the policy server at {self.policy} needs its model id (--policy-model NAME)")
        if _is_url(self.generator) and not self.generator_model:
            raise InvalidInputError(f"the generator server at {self.generator} needs its model id (--generator-model NAME)")
        self.train_config(Path(self.out), self.policy)  # bad training settings fail before anything runs

    @property
    def policy_is_local(self) -> bool:
        return not _is_url(self.policy) and not self.policy.startswith("replay:")

    @property
    def trains_generator(self) -> bool:
        return self.generator == "policy" and self.policy_is_local

    def train_config(self, out: Path, model: str, resume: bool = False, archived: bool = False) -> TrainConfig:
        """The training phase's settings; ``archived``: the run's archive has admitted environments."""
        envs = f"{self.envs},archive:{Path(self.out) / 'archive'}" if archived else self.envs
        return TrainConfig(model=model, envs=envs,
                           controller=self.controller, active_size=self.active_size, steps=self.steps, out=str(out),
                           group_size=self.group_size, groups_per_step=self.groups_per_step,
                           max_completion_length=self.max_completion_length, learning_rate=self.learning_rate,
                           eval_seeds=0, save_steps=self.save_steps, seed=self.seed, resume=resume)  # fmt: skip


def _is_url(spec: str) -> bool:
    return spec.lower().startswith(("http://", "https://"))


def load_config(path: str | None, overrides: dict[str, Any]) -> EvolveConfig:
    """``EvolveConfig`` from a JSON or TOML file (``--config``), with ``overrides`` on top."""
    values: dict[str, Any] = {}
    if path:
        file = Path(path)
        try:
            text = file.read_text()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the config file '{file}': {exc.strerror}") from exc
        try:
            if file.suffix == ".toml":
                import tomllib

                values = tomllib.loads(text)
            else:
                values = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"the config file '{file}' is not valid {file.suffix[1:] or 'JSON'}: {exc}") from exc
        known = {f.name for f in fields(EvolveConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(f"unknown setting '{unknown[0]}' in '{file}' (known: {', '.join(sorted(known))})")
    values.update(overrides)
    return EvolveConfig(**values)


# ----- the run's state ----------------------------------------------------------------------------
def _load_state(out: Path, config: EvolveConfig) -> dict[str, Any]:
    path = out / STATE
    if not path.exists():
        if config.resume:
            raise InvalidInputError(f"nothing to resume: no {STATE} in '{out}'")
        return {"kind": "evolve", "config": _config_json(config), "stages_done": 0, "policy": config.policy,
                "eval": [], "stages": []}  # fmt: skip
    if not config.resume:
        raise InvalidInputError(f"'{out}' holds an evolve run already: pass --resume to continue it, or another --out")
    state = json.loads(path.read_text())
    state["config"] = {**state["config"], "stages": config.stages}  # a resumed run may be asked for more stages
    return state


def _config_json(config: EvolveConfig) -> dict[str, Any]:
    values = asdict(config)
    values["eval_levels"] = list(values["eval_levels"])
    values.pop("resume")
    return values


def _save(out: Path, state: dict[str, Any]) -> None:
    write_json_atomic(out / STATE, state)


# ----- the loop -----------------------------------------------------------------------------------
def evolve(config: EvolveConfig | None = None, *, generator: ChatModel | None = None,
           solver: ChatModel | None = None, progress: bool = True, **options: Any) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) the loop; returns the final ``evolve.json`` content.

    ``generator`` / ``solver``: chat models to use instead of what the config names (the Python
    API's way to plug in any backend; the solver answers calibration instances and, when the policy
    is not local, the held-out suite).
    """
    from tqdm.auto import tqdm

    config = config or EvolveConfig(**options)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    state = _load_state(out, config)
    suite = config.eval_suite or config.envs
    with Archive(out / "archive") as archive:
        bar = tqdm(total=1 + config.stages * len(PHASES), desc="evolve", unit="phase", disable=not progress)
        bar.update(len(state["eval"][:1]) + sum(len(_done(s)) for s in state["stages"][: config.stages]))
        if not state["eval"]:
            bar.set_postfix_str("evaluating the starting policy")
            _evaluate(config, state, out, 0, suite, solver)
            bar.update()
        for stage in range(state["stages_done"] + 1, config.stages + 1):
            entry = _stage_entry(state, stage)
            if "synthesis" not in entry["done"]:
                bar.set_postfix_str(f"stage {stage}: synthesis")
                _synthesis(config, state, entry, out, archive, generator, solver)
                _finish(out, state, entry, "synthesis")
                _drop_checkpoints(out / f"stage-{stage}" / "generator")
                bar.update()
            if "train" not in entry["done"]:
                bar.set_postfix_str(f"stage {stage}: training")
                _train(config, state, entry, out, archive)
                _finish(out, state, entry, "train")
                _drop_checkpoints(out / f"stage-{stage}" / "train")
                bar.update()
            if "eval" not in entry["done"]:
                bar.set_postfix_str(f"stage {stage}: evaluation")
                _evaluate(config, state, out, stage, suite, solver, entry)
                _finish(out, state, entry, "eval")
                bar.update()
            state["stages_done"] = stage
            _save(out, state)
        bar.close()
    return state


def _done(entry: dict[str, Any]) -> list[str]:
    return entry.get("done", [])


def _drop_checkpoints(where: Path) -> None:
    """A finished phase's resumption checkpoints (model and optimizer state, about 1.6 GB each for
    the 135M model): its ``final/`` and ``evolve.json`` are all the next phases read."""
    for checkpoint in where.glob("checkpoint-*"):
        shutil.rmtree(checkpoint, ignore_errors=True)


def _stage_entry(state: dict[str, Any], stage: int) -> dict[str, Any]:
    if len(state["stages"]) < stage:
        state["stages"].append({"stage": stage, "done": [], "seconds": {}})
    return state["stages"][stage - 1]


def _finish(out: Path, state: dict[str, Any], entry: dict[str, Any], phase: str) -> None:
    entry["done"].append(phase)
    _save(out, state)


def _policy_chat(config: EvolveConfig, spec: str, solver: ChatModel | None) -> ChatModel:
    """The policy as a chat model: ``solver`` when given, else the checkpoint ``spec`` (or the server)."""
    if solver is not None:
        return solver
    if _is_url(spec):
        return make_chat_model(spec, config.policy_model, concurrency=8)
    if spec.startswith("replay:"):
        return make_chat_model(spec)
    return make_chat_model(None, None if spec == "embedded" else spec)


def _evaluate(config: EvolveConfig, state: dict[str, Any], out: Path, stage: int, suite: str,
              solver: ChatModel | None, entry: dict[str, Any] | None = None) -> None:  # fmt: skip
    started = time.perf_counter()
    relative = f"eval/stage-{stage}.json"
    # A local policy is evaluated from its checkpoint, before and after alike; ``solver`` stands in
    # only for a policy that is not local.
    model = _policy_chat(config, state["policy"], None if config.policy_is_local else solver)
    result = run_eval(model, suite=suite, levels=config.eval_levels, seeds=config.eval_seeds,
                      max_tokens=config.max_completion_length, out=out / relative, progress=False)  # fmt: skip
    if relative not in state["eval"]:
        state["eval"].append(relative)
    if entry is None:
        state["pass_rate_before"] = result["pass_rate"]
        _save(out, state)
        return
    entry["eval"] = relative
    entry["pass_rate"] = result["pass_rate"]
    entry["seconds"]["eval"] = round(time.perf_counter() - started, 1)


def _synthesis(config: EvolveConfig, state: dict[str, Any], entry: dict[str, Any], out: Path, archive: Archive,
               generator: ChatModel | None, solver: ChatModel | None) -> None:  # fmt: skip
    started = time.perf_counter()
    stage = entry["stage"]
    label = {"evolve_stage": stage}
    seed = config.seed * 1000 + stage
    solver_model = _policy_chat(config, state["policy"], solver)
    if config.trains_generator and generator is None:
        where = out / f"stage-{stage}" / "generator"
        summary = gen.train_generator(
            state["policy"], archive, solver_model, where,
            steps=math.ceil(config.proposals / config.generator_group_size), group_size=config.generator_group_size,
            max_tokens=config.generator_max_tokens, learning_rate=config.generator_learning_rate, seed=seed,
            run_info=label, examples=config.examples, example_chars=config.example_chars, resume=config.resume,
        )  # fmt: skip
        state["policy"] = str(where / "final")  # training continues from the policy that wrote them
    else:
        model = generator or (_policy_chat(config, state["policy"], None) if config.generator == "policy"
                              else make_chat_model(_spec(config.generator), _generator_name(config)))  # fmt: skip
        owed = config.proposals - sum(record.lineage.get("mode") != "repair"
                                      for record in gen.stage_records(archive, label))  # fmt: skip
        if owed > 0:
            synthesize(model, archive, rounds=1, candidates=owed, solver=solver_model, seed=seed, progress=False,
                       max_tokens=config.generator_max_tokens, examples=config.examples,
                       example_chars=config.example_chars, run_info=label)  # fmt: skip
        summary = {**gen.summarise(gen.record_rewards(gen.stage_records(archive, label))), "trained": False}
    records = gen.stage_records(archive, label)
    entry["synthesis"] = {"run_ids": sorted({record.run_id for record in records if record.run_id}),
                          "outcomes": gen.outcomes(records), "funnel": _funnel(archive, records)}  # fmt: skip
    entry["generator"] = {key: value for key, value in summary.items() if key != "log"}
    entry["archive_size"] = len(archive.names())
    entry["seconds"]["synthesis"] = round(time.perf_counter() - started, 1)


def _spec(spec: str) -> str | None:
    return None if spec == "embedded" or Path(spec).is_dir() else spec


def _generator_name(config: EvolveConfig) -> str | None:
    return config.generator if Path(config.generator).is_dir() else config.generator_model


def _funnel(archive: Archive, records: list[Any]) -> dict[str, Any]:
    """The archive's funnel (``Archive.funnel``) over every run of the stage, added up."""
    total: dict[str, Any] = {"candidates": 0, "passed": {}, "skipped": {}, "failed": {}, "reasons": {}, "admitted": 0}
    for run_id in sorted({record.run_id for record in records if record.run_id}):
        funnel = archive.funnel(run_id)
        total["candidates"] += funnel["candidates"]
        total["admitted"] += funnel["admitted"]
        for key in ("passed", "skipped", "failed"):
            for stage, n in funnel[key].items():
                total[key][stage] = total[key].get(stage, 0) + n
        for stage, reasons in funnel["reasons"].items():
            merged = dict(map(tuple, total["reasons"].get(stage, [])))
            for reason, n in reasons:
                merged[reason] = merged.get(reason, 0) + n
            total["reasons"][stage] = sorted(([r, n] for r, n in merged.items()), key=lambda item: -item[1])[:10]
    return total


def _train(config: EvolveConfig, state: dict[str, Any], entry: dict[str, Any], out: Path, archive: Archive) -> None:
    started = time.perf_counter()
    stage = entry["stage"]
    relative = f"stage-{stage}/train"
    if not config.policy_is_local:
        entry["train"] = None
        entry["train_skipped"] = (f"the policy is served at {config.policy}: envfoundry cannot update its weights, so "
                                  "this stage synthesizes and evaluates only")  # fmt: skip
        entry["seconds"]["train"] = 0.0
        return
    where = out / relative
    resume = last_checkpoint(where) is not None  # else the phase starts over
    summary = train(config.train_config(where, state["policy"], resume=resume, archived=bool(archive.names())))
    state["policy"] = str(where / "final")
    entry["train"] = relative
    entry["dead_group_share"] = summary["dead_group_share"]
    entry["pool"] = summary["pool"]
    entry["swaps"] = summary["swaps"]
    entry["seconds"]["train"] = round(time.perf_counter() - started, 1)
