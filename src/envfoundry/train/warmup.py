"""Format warm-up: supervised fine-tuning on the environments' own references, before GRPO.

A small instruction model answers many easy instances correctly in prose but never writes the
``<answer>…</answer>`` block the environments read, so every GRPO group is dead (all rewards 0) and
RL has nothing to learn from. The warm-up teaches the convention: TRL's ``SFTTrainer`` on
(chat prompt, ``<answer>reference</answer>``) pairs sampled from the same environments at low
levels. Where an environment can explain its reference (``Environment.worked_solution``), the
target carries that short worked reasoning before the answer block.

Held-out evaluation is never trained on: warm-up instances use seeds from ``WARMUP_SEED_BASE`` up
(GRPO's start at ``TRAIN_SEED_BASE``, held-out ones below it), and any warm-up instance whose prompt
equals a held-out prompt is skipped (easy levels have few distinct instances, so different seeds
can give the same question).

The result is a plain transformers checkpoint (model + tokenizer) that ``train --model DIR`` loads.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from envfoundry.core.answer import wrap_answer
from envfoundry.core.environment import Instance
from envfoundry.curriculum.curriculum import TRAIN_SEED_BASE
from envfoundry.errors import InvalidInputError
from envfoundry.train.device import use_bf16, use_cuda

# Warm-up seeds: above GRPO's (which start at TRAIN_SEED_BASE and count up one per group).
WARMUP_SEED_BASE = 2 * TRAIN_SEED_BASE


def target_text(env: Any, instance: Instance) -> str:
    """What the model should answer: the reference in an answer block, after the environment's
    worked solution where it has one (sandboxed and adapted environments have none)."""
    worked = getattr(env, "worked_solution", None)
    reasoning = worked(instance.state) if callable(worked) else None
    answer = wrap_answer(instance.reference)
    return f"{reasoning}\n{answer}" if reasoning else answer


def warmup_rows(envs: Mapping[str, Any], examples_per_env: int, max_level: float, system_prompt: str,
                exclude_prompts: Collection[str] = (), seed: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """``examples_per_env`` prompt-completion rows per environment (TRL's conversational format),
    levels spread evenly over [0, ``max_level``], interleaved across environments, none of whose
    prompts is in ``exclude_prompts``. Deterministic in its inputs."""
    per_env: list[list[dict[str, Any]]] = []
    for name, env in envs.items():
        rows: list[dict[str, Any]] = []
        tried = 0
        seed_base = WARMUP_SEED_BASE + seed * 10 * examples_per_env
        # Easy levels can have fewer distinct questions than asked for: give up after 10x the draws.
        while len(rows) < examples_per_env and tried < 10 * examples_per_env:
            level = max_level * (tried % examples_per_env) / max(examples_per_env - 1, 1)
            instance = env.sample(seed_base + tried, level=round(level, 4))
            tried += 1
            if instance.prompt in exclude_prompts:
                continue
            rows.append({
                "prompt": [{"role": "system", "content": system_prompt}, {"role": "user", "content": instance.prompt}],
                "completion": [{"role": "assistant", "content": target_text(env, instance)}],
                "env": name, "level": instance.level,
            })  # fmt: skip
        per_env.append(rows)
    # Round robin, so every batch mixes environments.
    return [row for group in zip_longest(*per_env) for row in group if row is not None]


@dataclass
class WarmupConfig:
    """Settings of a format warm-up (``envfoundry warmup``, ``train --warmup-steps``).

    ``steps``: optimizer steps of ``batch_size`` examples; the data holds ``steps * batch_size``
    examples spread evenly over the environments (each seen once). ``max_level``: warm-up
    instances are drawn from levels in [0, max_level].
    """

    steps: int = field(default=60, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=8, metadata={"help": "examples per step"})
    learning_rate: float = field(default=5e-5, metadata={"help": "learning rate"})
    max_level: float = field(default=0.25, metadata={"help": "instances come from levels in [0, this]"})
    max_length: int = field(default=512, metadata={"help": "tokens per example (prompt and target)"})
    seed: int = field(default=0, metadata={"help": "seed of the instances and the trainer"})

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise InvalidInputError(f"warm-up steps and batch size must be at least 1, got {self.steps} and {self.batch_size}")
        if not 0.0 <= self.max_level <= 1.0:
            raise InvalidInputError(f"warm-up max level must be in [0, 1], got {self.max_level}")
        if not self.learning_rate > 0:
            raise InvalidInputError(f"warm-up learning rate must be positive, got {self.learning_rate}")


def run_warmup(model: Any, tokenizer: Any, envs: Mapping[str, Any], config: WarmupConfig, out: str | Path,
               system_prompt: str, exclude_prompts: Collection[str] = ()) -> dict[str, Any]:  # fmt: skip
    """Fine-tune ``model`` in place on warm-up rows from ``envs``; save it with its tokenizer to
    ``out`` (a checkpoint ``train --model`` accepts); return a summary of the run."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not envs:
        raise InvalidInputError("the warm-up needs at least one environment")
    out = Path(out)
    per_env = -(-config.steps * config.batch_size // len(envs))  # ceil: every step gets a full batch
    rows = warmup_rows(envs, per_env, config.max_level, system_prompt, exclude_prompts, config.seed)
    rows = rows[: config.steps * config.batch_size]  # round robin: the cut keeps the environments even
    if len(rows) < config.batch_size:
        raise InvalidInputError(f"the warm-up found only {len(rows)} examples not in the held-out set; lower the "
                         f"batch size or raise the max level")  # fmt: skip
    args = SFTConfig(
        output_dir=str(out), use_cpu=not use_cuda(), bf16=use_bf16(), gradient_checkpointing=False,
        per_device_train_batch_size=config.batch_size, max_steps=config.steps, learning_rate=config.learning_rate,
        lr_scheduler_type="constant_with_warmup", warmup_steps=min(5, config.steps // 10),
        max_length=config.max_length, completion_only_loss=True, logging_steps=max(1, config.steps // 10),
        save_strategy="no", report_to="none", seed=config.seed, shuffle_dataset=False,
    )  # fmt: skip
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
    trainer_class = SFTTrainer if use_cuda() else _model_loss_trainer(SFTTrainer)
    trainer = trainer_class(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["env"]] = counts.get(row["env"], 0) + 1
    summary = {
        "config": asdict(config), "system_prompt": system_prompt, "examples": counts, "seconds": round(seconds, 1),
        "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
        "excluded_prompts": len(exclude_prompts),
    }  # fmt: skip
    return summary


def _model_loss_trainer(sft_trainer: type) -> type:
    """``SFTTrainer`` with the model's own cross-entropy as the loss, for CPUs.

    TRL computes the SFT loss with a chunked LM-head kernel that saves GPU memory; without Triton it
    runs as plain torch ops over every position, and on SmolLM2-135M (2 CPU cores, batches of 8
    prompts of about 170 tokens) a step took 10.0 s with it against 5.6 s with the model's loss,
    at the same loss. The labels are TRL's (completion tokens only); only its logging-only metrics
    (entropy, token accuracy) are lost.
    """

    class ModelLossSFTTrainer(sft_trainer):
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:  # fmt: skip
            outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                            labels=inputs["labels"])  # fmt: skip
            return (outputs.loss, outputs) if return_outputs else outputs.loss

    return ModelLossSFTTrainer


def held_out_prompts(envs: Mapping[str, Any], seeds: Sequence[int], levels: Sequence[float]) -> set[str]:
    """The prompts of the held-out instances (the ones ``evaluate`` scores)."""
    return {envs[name].sample(seed, level=level).prompt for name in envs for level in levels for seed in seeds}
