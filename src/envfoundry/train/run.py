"""``envfoundry train`` and ``envfoundry warmup``: an optional format warm-up (supervised, TRL's
``SFTTrainer``; ``train.warmup``), then GRPO with TRL on a curriculum over environments, with
held-out pass rates for the base model, after the warm-up and after GRPO.

On a CPU it runs the embedded SmolLM2-135M-Instruct; on GPUs any Hugging Face causal LM, unchanged;
bf16 autocast where the hardware multiplies bf16 natively (``train.device``). The environments come
from a pool spec (``curriculum.pool``: seeds, the archive, reasoning-gym datasets, names, files);
the curriculum keeps ``active_size`` of them active. Output directory: ``warmup/`` (the warmed-up
checkpoint and ``warmup.json``), ``checkpoint-N/`` (model + ``curriculum.json``), ``final/``,
``curriculum.jsonl`` (per-step curriculum statistics), ``train_log.jsonl`` (TRL's logs),
``eval.json`` (held-out pass and answer-block rates per environment and level: before, after the
warm-up, after GRPO; dead-group share per step). With ``report_to="tensorboard"`` or ``"wandb"``
the curriculum's statistics (``curriculum/...``: dead-group share, reward, and per environment
level, accuracy and dead share) go to the same run as TRL's.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envfoundry.core.files import write_atomic, write_json_atomic
from envfoundry.curriculum import TRAIN_SEED_BASE, Curriculum, build_pool
from envfoundry.curriculum.diversity import make_similarity
from envfoundry.curriculum.pool import PinnedEnvironment
from envfoundry.errors import InvalidInputError
from envfoundry.train.device import use_bf16, use_cuda
from envfoundry.train.grpo import SYSTEM_PROMPT, CurriculumReward, curriculum_dataset, make_callback, resume_step_log
from envfoundry.train.warmup import WarmupConfig, held_out_prompts, run_warmup

EVAL_LEVELS = (0.25,)
WARMUP_OUT = "runs/warmup"
# The settings a stand-alone warm-up (``warm_up``, ``envfoundry warmup``) shares with ``TrainConfig``.
WARMUP_RUN_OPTIONS = ("model", "envs", "out", "eval_seeds", "eval_levels", "max_completion_length")
REPORTERS = {"none": None, "tensorboard": "tensorboard", "wandb": "wandb"}  # name -> module it needs


def load_model(spec: str) -> tuple[Any, Any]:
    """``embedded`` (SmolLM2-135M-Instruct), a ``.gguf`` file, or a local checkpoint directory /
    Hugging Face id of a causal LM (a warm-up's output directory among them)."""
    if spec == "embedded":
        from envfoundry.llm.embedded import load_embedded_model_and_tokenizer

        return load_embedded_model_and_tokenizer()
    if spec.lower().endswith(".gguf"):
        from envfoundry.llm.embedded import load_gguf

        if not Path(spec).is_file():
            raise InvalidInputError(f"no GGUF file at '{spec}'")
        lm, tokenizer = load_gguf(spec)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(spec)
        lm = AutoModelForCausalLM.from_pretrained(spec)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer


def evaluate(model: Any, tokenizer: Any, envs: dict[str, Any], seeds: Sequence[int],
             levels: Sequence[float] = EVAL_LEVELS, max_new_tokens: int = 64,
             batch_size: int = 8, format_rates: dict[str, dict[str, float]] | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """Pass rate per environment and level (``{env: {"0.25": rate}}``) on held-out instances (seeds
    never used in training), greedy decoding. The instances are the same before and after training.
    A ``format_rates`` dict is filled with the share of replies that had an answer block, alike."""
    import torch
    from tqdm.auto import tqdm

    rates: dict[str, dict[str, float]] = {}
    device = next(model.parameters()).device
    work = [(name, level) for name in envs for level in levels]
    for name, level in tqdm(work, desc="held-out evaluation", unit="env-level", leave=False):
        env = envs[name]
        instances = [env.sample(seed, level=level) for seed in seeds]
        correct = formatted = 0
        for start in range(0, len(instances), batch_size):
            chunk = instances[start : start + batch_size]
            texts = [tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM_PROMPT},
                                                   {"role": "user", "content": i.prompt}],
                                                  tokenize=False, add_generation_prompt=True) for i in chunk]  # fmt: skip
            encoded = tokenizer(texts, return_tensors="pt", padding=True).to(device)
            with torch.inference_mode():
                output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                        pad_token_id=tokenizer.pad_token_id)  # fmt: skip
            replies = tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
            verdicts = env.score_many(chunk, replies)
            correct += sum(verdict.correct for verdict in verdicts)
            formatted += sum(verdict.format_ok for verdict in verdicts)
        rates.setdefault(name, {})[f"{level:g}"] = correct / len(instances)
        if format_rates is not None:
            format_rates.setdefault(name, {})[f"{level:g}"] = formatted / len(instances)
    return rates


def _check_reporter(report_to: str) -> str:
    if report_to not in REPORTERS:
        raise InvalidInputError(f"--report-to must be one of {', '.join(REPORTERS)}, got {report_to!r}")
    module = REPORTERS[report_to]
    if module is not None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            raise InvalidInputError(f"--report-to {report_to} needs the {module} package (pip install {module})")
    return report_to


def _eval_levels(levels: Sequence[float]) -> list[float]:
    levels = [float(level) for level in levels]
    if not levels or any(not 0.0 <= level <= 1.0 for level in levels):
        raise InvalidInputError(f"evaluation levels must be in [0, 1], got {levels}")
    return levels


def option(default: Any, help: str, **meta: Any) -> Any:
    """A config field with its command-line help (``cli.options`` makes ``--the-field`` from it)."""
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class TrainConfig:
    """Everything a run is configured by (written to ``eval.json`` with the results).

    ``envs``: a pool spec (``"seeds"``, ``"seeds,archive,rg"``, names, files; see ``curriculum.pool``).
    ``eval_envs``: the environments evaluated before and after (default: the active set at the start;
    ``rg:NAME`` for a reasoning-gym dataset); ones outside the pool are never trained on.
    ``diversity``: how entrants to the active set are chosen (``auto``, ``embeddings``, ``traits``).
    ``resume``: continue from the last checkpoint in ``out`` (model, optimizer and curriculum
    state: the next batch is the one the interrupted run would have drawn).
    ``warmup_steps``: steps of format warm-up (supervised, ``train.warmup``) on the starting active
    set before GRPO, evaluated on its own (``eval.warmup``); saved to ``out/warmup``. A resumed run
    does not warm up again (its checkpoint holds the warmed-up weights).
    ``params``: parameters pinned per environment, ``ENV.NAME=VALUE`` each (an environment
    engineer's configuration): every instance of ``ENV``, trained on or held out, has them, whatever
    level the controller picks (``curriculum.pool.PinnedEnvironment``).
    ``first_seed``: the first training instance seed (later ones give a stage new instances).
    """

    model: str = option("embedded", "'embedded' (SmolLM2-135M), a .gguf file, a checkpoint directory (a warm-up's) "
                        "or a Hugging Face id")  # fmt: skip
    envs: str | Sequence[str] = option("seeds", "the pool: seeds, archive[:DIR], reasoning-gym, rg:NAME, names, "
                                       "files; comma-separated", metavar="SPEC")  # fmt: skip
    controller: str = option("scaler", "how each environment's difficulty moves", choices=["scaler", "rlve", "fixed"])
    active_size: int = option(64, "environments active at once")
    diversity: str = option("auto", "how entrants to the active set are chosen (auto: embeddings when installed "
                            "and needed)", choices=["auto", "embeddings", "traits"])  # fmt: skip
    steps: int = option(2, "GRPO steps")
    out: str = option("runs/grpo", "where checkpoints and results (eval.json, warmup.json) go", metavar="DIR")
    group_size: int = option(4, "completions per prompt (a GRPO group)")
    groups_per_step: int = option(2, "groups per step", flag="--groups")
    max_completion_length: int = option(64, "tokens per completion (and per held-out answer)")
    learning_rate: float = option(1e-5, "GRPO learning rate")
    format_weight: float = option(0.0, "extra reward for a well-formed answer block", flag="--format-reward")
    eval_seeds: int = option(8, "held-out instances per environment and level (0: no evaluation)")
    eval_levels: Sequence[float] = option(EVAL_LEVELS, "levels to evaluate at, comma-separated")
    eval_envs: Sequence[str] | None = option(None, "environments to evaluate, comma-separated (default: the active "
                                             "set at the start; others are never trained on)", metavar="A,B")  # fmt: skip
    save_steps: int | None = option(None, "checkpoint every N steps (default: at the end)")
    report_to: str = option("none", "none, tensorboard or wandb")
    seed: int = option(0, "seed of the curriculum, the sampler and the warm-up")
    resume: bool = option(False, "continue from the last checkpoint in --out")
    warmup_steps: int = option(0, "format warm-up steps (supervised, on the environments' references) before GRPO; "
                               "saved to OUT/warmup")  # fmt: skip
    warmup_learning_rate: float = option(WarmupConfig.learning_rate, "format warm-up learning rate")
    warmup_max_level: float = option(WarmupConfig.max_level, "format warm-up instances come from levels in [0, this]")
    params: Sequence[str] | None = option(None, "pin parameters of environments in the pool, ENV.NAME=VALUE, comma-separated "
                                   "(e.g. mapf_frozenlake.size=5): the level sets only the others",
                                   metavar="ENV.K=V")  # fmt: skip
    first_seed: int = option(TRAIN_SEED_BASE, "seed of the first training instance (held-out seeds lie below "
                             f"{TRAIN_SEED_BASE:,})")  # fmt: skip

    def __post_init__(self) -> None:
        if self.steps < 1 or self.group_size < 2 or self.groups_per_step < 1 or self.active_size < 1:
            raise InvalidInputError("steps, groups_per_step and active_size must be at least 1, group_size at least 2")
        if self.eval_seeds < 0:
            raise InvalidInputError(f"eval_seeds must be 0 or more, got {self.eval_seeds}")
        self.out = str(self.out)
        self.eval_levels = _eval_levels(self.eval_levels)
        _check_reporter(self.report_to)
        if self.warmup_steps < 0:
            raise InvalidInputError(f"warmup_steps must be 0 or more, got {self.warmup_steps}")
        if self.warmup_steps:
            self.warmup_config()  # bad warm-up settings fail before anything loads
        if self.first_seed < TRAIN_SEED_BASE:
            raise InvalidInputError(f"first_seed must be at least {TRAIN_SEED_BASE:,}: held-out seeds lie below it")
        self.params = [str(item) for item in self.params or ()]
        _pin_assignments(self.params)

    def warmup_config(self) -> WarmupConfig:
        return WarmupConfig(steps=self.warmup_steps, learning_rate=self.warmup_learning_rate,
                            max_level=self.warmup_max_level, seed=self.seed)  # fmt: skip


def _pin_assignments(items: Sequence[str]) -> dict[str, list[str]]:
    """``["env.k=v", ...]`` -> ``{env: ["k=v", ...]}`` (the values are checked against the pool)."""
    pins: dict[str, list[str]] = {}
    for item in items:
        name, dot, assignment = item.partition(".")
        if not dot or not name.strip() or "=" not in assignment:
            raise InvalidInputError(f"a pinned parameter looks like ENV.NAME=VALUE (mapf_frozenlake.size=5), got {item!r}")
        pins.setdefault(name.strip(), []).append(assignment)
    return pins


def last_checkpoint(out: str | Path, needs: Sequence[str] = ("trainer_state.json", "curriculum.json")) -> str | None:
    """The newest complete ``checkpoint-N`` in ``out``, one that holds every file in ``needs``: by
    default TRL's state (written last) and the curriculum's (a kill between the two leaves the newest
    one without the curriculum; the one before stands)."""
    found = []
    for path in Path(out).glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and all((path / name).is_file() for name in needs):
            found.append((int(step), path))
    return str(max(found)[1]) if found else None


def _checkpoint_step(checkpoint: str | Path) -> int:
    """The training step a ``checkpoint-N`` folder was saved at."""
    return int(Path(checkpoint).name.removeprefix("checkpoint-"))


def train(config: TrainConfig | None = None, **options: Any) -> dict[str, Any]:
    """Train with ``config`` (or ``TrainConfig(**options)``) and return the summary written to ``eval.json``."""
    config = config or TrainConfig(**options)
    out = Path(config.out)
    checkpoint = last_checkpoint(out) if config.resume else None
    if config.resume and checkpoint is None:
        raise InvalidInputError(f"nothing to resume: no checkpoint-N folder in '{out}'")
    with build_pool(config.envs) as pool:
        for name, assignments in _pin_assignments(config.params).items():
            if name not in pool.envs:
                raise InvalidInputError(f"--params pins '{name}', which is not in the pool ({', '.join(pool.envs)})")
            pool.envs[name] = PinnedEnvironment(pool.envs[name], pool.envs[name].parameter_space.parse(assignments))
        # Evaluation environments outside the pool are never trained on: they show transfer (or forgetting).
        untrained = [spec for spec in config.eval_envs or () if spec not in pool.envs]
        with build_pool(untrained) if untrained else contextlib.nullcontext() as others:
            return _train(pool, others.envs if others else {}, config, checkpoint)


def _train(pool: Any, untrained: dict[str, Any], c: TrainConfig, checkpoint: str | None) -> dict[str, Any]:
    from trl import GRPOConfig, GRPOTrainer

    eval_names = list(c.eval_envs or ())
    out = Path(c.out)
    out.mkdir(parents=True, exist_ok=True)
    if checkpoint is None:  # a fresh run into an old directory starts its step log afresh
        (out / "curriculum.jsonl").unlink(missing_ok=True)
        logged = []
    else:  # steps logged after the checkpoint are trained again: their lines go
        logged = resume_step_log(out / "curriculum.jsonl", _checkpoint_step(checkpoint))
    similarity = make_similarity(pool.envs, c.diversity, c.active_size)
    curriculum = Curriculum(pool.envs, controller=c.controller, group_size=c.group_size, active_size=c.active_size,
                            seed_envs=pool.seed_names, seed=c.seed, similarity=similarity,
                            first_seed=c.first_seed)  # fmt: skip
    if checkpoint is not None:
        curriculum.load(Path(checkpoint) / "curriculum.json")
    eval_names = eval_names or list(curriculum.active)
    lm, tokenizer = load_model(c.model)
    cuda = use_cuda()
    if cuda:
        lm.to("cuda")
    held_out = range(c.eval_seeds)  # training seeds start at TRAIN_SEED_BASE: never these
    eval_envs = {name: pool.envs.get(name) or untrained[name] for name in eval_names}

    before, format_before = _rates(lm, tokenizer, eval_envs, held_out, c.eval_levels, c.max_completion_length)
    warmup_dir = out / "warmup"
    if c.warmup_steps and checkpoint is None:
        warmup = _evaluated_warmup(lm, tokenizer, {name: pool.envs[name] for name in curriculum.active}, eval_envs,
                                   c.warmup_config(), warmup_dir, c.model, held_out, c.eval_levels,
                                   c.max_completion_length, before=(before, format_before))  # fmt: skip
    else:  # a resumed run was warmed up (or not) by its first run: its checkpoint holds the weights
        summary_file = warmup_dir / "warmup.json"
        warmup = json.loads(summary_file.read_text()) if checkpoint and summary_file.is_file() else {}
    warmed = _same_eval(warmup.get("eval", {}), c)  # a resumed run's warm-up may have used other seeds
    curriculum.release_idle()  # evaluated but not active: no sandbox kept running for it
    args = GRPOConfig(
        output_dir=str(out), use_cpu=not cuda, bf16=use_bf16(), gradient_checkpointing=False,
        num_generations=c.group_size, per_device_train_batch_size=c.group_size * c.groups_per_step,
        max_completion_length=c.max_completion_length, max_steps=c.steps, learning_rate=c.learning_rate,
        logging_steps=1, report_to=c.report_to, save_strategy="steps", save_steps=c.save_steps or c.steps,
        shuffle_dataset=False, seed=c.seed,
        # The curriculum restores its own position: replaying the stream to skip batches would advance it.
        ignore_data_skip=True,
    )  # fmt: skip
    reward = CurriculumReward(curriculum, format_weight=c.format_weight)
    callback = make_callback(curriculum, out, logged)
    trainer = GRPOTrainer(model=lm, processing_class=tokenizer, reward_funcs=[reward], args=args,
                          train_dataset=curriculum_dataset(curriculum, c.groups_per_step))  # fmt: skip
    # First in line, so the curriculum's statistics are in the logs before TensorBoard / W&B read them.
    trainer.callback_handler.callbacks.insert(0, callback)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    trainer.save_model(str(out / "final"))
    curriculum.save(out / "final" / "curriculum.json")
    write_atomic(out / "train_log.jsonl", "".join(json.dumps(entry) + "\n" for entry in trainer.state.log_history))
    after, format_after = _rates(lm, tokenizer, eval_envs, held_out, c.eval_levels, c.max_completion_length)
    curriculum.release_idle()
    dead = [step["dead_share"] for step in callback.steps]
    unsolved = [step["dead_unsolved_share"] for step in callback.steps]
    summary = {
        "config": {**asdict(c), "envs": c.envs if isinstance(c.envs, str) else list(c.envs)},
        "pool": {"size": len(pool), "origins": pool.origins(), "active_size": curriculum.active_size,
                 "diversity": "embeddings" if similarity else "traits"},
        "steps": c.steps, "seconds": round(seconds, 1), "dead_group_share": sum(dead) / len(dead) if dead else None,
        "dead_group_share_per_step": dead,
        # of all groups, the share that failed every rollout (the rest of the dead share solved every one)
        "dead_unsolved_share": sum(unsolved) / len(unsolved) if unsolved else None, "swaps": [swap for step in callback.steps for swap in step["swaps"]],
        "warmup": {"steps": warmup["config"]["steps"],
                   **{key: warmup[key] for key in ("seconds", "examples", "loss_first", "loss_last")}} if warmup else {},
        "eval": {"levels": c.eval_levels, "seeds": c.eval_seeds, "before": before,
                 "warmup": warmed.get("after", {}), "after": after,
                 # the share of held-out replies with an answer block, alike: how much of a gain is format
                 "format": {"before": format_before, "warmup": warmed.get("format_after", {}), "after": format_after}},
    }  # fmt: skip
    write_json_atomic(out / "eval.json", summary)
    # TensorBoard: the directory transformers' callback wrote this run's events to.
    log_dir = next((getattr(cb, "logging_dir", None) for cb in trainer.callback_handler.callbacks
                    if type(cb).__name__ == "TensorBoardCallback"), None) or str(out / "runs")  # fmt: skip
    _report_eval(c.report_to, log_dir, {key: summary["eval"][key] for key in ("before", "warmup", "after")},
                 trainer.state.global_step)  # fmt: skip
    return summary


def warm_up(model: str = TrainConfig.model, envs: str | Sequence[str] = TrainConfig.envs, out: str = WARMUP_OUT,
            config: WarmupConfig | None = None, eval_seeds: int = TrainConfig.eval_seeds,
            eval_levels: Sequence[float] = EVAL_LEVELS,
            max_new_tokens: int = TrainConfig.max_completion_length) -> dict[str, Any]:  # fmt: skip
    """``envfoundry warmup``: the format warm-up on every environment of a pool spec, on its own;
    held-out pass rates before and after (``eval``) when ``eval_seeds``; the checkpoint in ``out``
    (``train --model OUT`` continues from it) with ``warmup.json``."""
    levels = _eval_levels(eval_levels)
    if eval_seeds < 0:
        raise InvalidInputError(f"eval_seeds must be 0 or more, got {eval_seeds}")
    with build_pool(envs) as pool:
        lm, tokenizer = load_model(model)
        if use_cuda():
            lm.to("cuda")
        return _evaluated_warmup(lm, tokenizer, pool.envs, pool.envs, config or WarmupConfig(), Path(out), model,
                                 range(eval_seeds), levels, max_new_tokens)  # fmt: skip


def _evaluated_warmup(lm: Any, tokenizer: Any, envs: dict[str, Any], eval_envs: dict[str, Any], config: WarmupConfig,
                      out: Path, model: str, held_out: Sequence[int], levels: Sequence[float], max_new_tokens: int,
                      before: tuple[dict, dict] | None = None) -> dict[str, Any]:  # fmt: skip
    """Warm up on ``envs``; held-out pass and answer-block rates on ``eval_envs`` before (measured
    here unless ``before`` gives them) and after; the summary in ``out/warmup.json``."""

    before = before or _rates(lm, tokenizer, eval_envs, held_out, levels, max_new_tokens)
    summary = run_warmup(lm, tokenizer, envs, config, out, SYSTEM_PROMPT, held_out_prompts(eval_envs, held_out, levels))
    after = _rates(lm, tokenizer, eval_envs, held_out, levels, max_new_tokens)
    summary["model"] = model
    summary["eval"] = {"levels": list(levels), "seeds": len(held_out), "before": before[0], "after": after[0],
                       "format_before": before[1], "format_after": after[1]}  # fmt: skip
    write_json_atomic(out / "warmup.json", summary)
    return summary


def _rates(lm: Any, tokenizer: Any, envs: dict[str, Any], held_out: Sequence[int], levels: Sequence[float],
           max_new_tokens: int) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:  # fmt: skip
    """Held-out pass rates and answer-block rates (both empty without held-out seeds)."""
    formats: dict[str, dict[str, float]] = {}
    if not held_out:
        return {}, formats
    return evaluate(lm, tokenizer, envs, held_out, levels, max_new_tokens, format_rates=formats), formats


def _same_eval(evaluation: dict[str, Any], c: TrainConfig) -> dict[str, Any]:
    """``evaluation`` if it used this run's held-out seeds and levels (a resumed run may not), else {}."""
    same = evaluation.get("seeds") == c.eval_seeds and evaluation.get("levels") == list(c.eval_levels)
    return evaluation if same else {}


def _report_eval(report_to: str, log_dir: str, rates: dict[str, dict[str, Any]], step: int) -> None:
    """Held-out pass rates to TensorBoard (``eval/<env>/level_<l>`` at step 0, where GRPO started
    (after the warm-up, if any), and at the last step) or to the W&B run's summary (``.../before``,
    ``.../warmup``, ``.../after``), beside the training metrics."""
    if report_to == "tensorboard" and rates["before"]:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=log_dir) as writer:
            for at, curves in ((0, rates["warmup"] or rates["before"]), (step, rates["after"])):
                for name, curve in curves.items():
                    for level, rate in curve.items():
                        writer.add_scalar(f"eval/{name}/level_{level}", rate, global_step=at)
    elif report_to == "wandb":
        import wandb

        if wandb.run is not None:
            for when, curves in rates.items():
                for name, curve in curves.items():
                    for level, rate in curve.items():
                        wandb.run.summary[f"eval/{name}/level_{level}/{when}"] = rate
            wandb.finish()
