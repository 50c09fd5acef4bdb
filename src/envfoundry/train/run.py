"""``envfoundry train``: GRPO with TRL on a curriculum over environments, evaluated before and after.

On a CPU it runs the embedded SmolLM2-135M-Instruct; on GPUs any Hugging Face causal LM, unchanged
(bf16 where CUDA is available). Output directory: ``checkpoint-N/`` (model + ``curriculum.json``),
``final/``, ``curriculum.jsonl`` (per-step curriculum statistics), ``train_log.jsonl`` (TRL's
logs), ``eval.json`` (held-out pass rate per environment before and after).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import envfoundry
from envfoundry.curriculum import Curriculum
from envfoundry.envs import seed_names
from envfoundry.train.grpo import SYSTEM_PROMPT, CurriculumReward, curriculum_dataset, make_callback

EVAL_LEVEL = 0.25


def load_model(spec: str) -> tuple[Any, Any]:
    """``embedded`` (SmolLM2-135M-Instruct) or a local path / Hugging Face id of a causal LM."""
    if spec == "embedded":
        from envfoundry.llm.embedded import load_embedded_model_and_tokenizer

        return load_embedded_model_and_tokenizer()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(spec)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(spec), tokenizer


def evaluate(model: Any, tokenizer: Any, envs: dict[str, Any], seeds: Sequence[int], level: float = EVAL_LEVEL,
             max_new_tokens: int = 64, batch_size: int = 8) -> dict[str, float]:  # fmt: skip
    """Pass rate per environment on held-out instances (seeds never used in training), greedy."""
    import torch

    rates = {}
    device = next(model.parameters()).device
    for name, env in envs.items():
        instances = [env.sample(seed, level=level) for seed in seeds]
        correct = 0
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
            correct += sum(env.score(i, reply).correct for i, reply in zip(chunk, replies, strict=True))
        rates[name] = correct / len(instances)
    return rates


def train(
    *,
    model: str = "embedded",
    envs: Sequence[str] | None = None,
    controller: str = "scaler",
    steps: int = 2,
    out: str | Path = "runs/grpo",
    group_size: int = 4,
    groups_per_step: int = 2,
    max_completion_length: int = 64,
    learning_rate: float = 1e-5,
    format_weight: float = 0.0,
    eval_seeds: int = 8,
    save_steps: int | None = None,
    report_to: str = "none",
    seed: int = 0,
    resume: bool = False,
) -> dict[str, Any]:
    """Train; with ``resume``, continue from the last checkpoint in ``out`` (model, optimizer and
    curriculum state: the next batch is the one the interrupted run would have drawn)."""
    import torch
    from transformers.trainer_utils import get_last_checkpoint
    from trl import GRPOConfig, GRPOTrainer

    if steps < 1 or group_size < 2 or groups_per_step < 1:
        raise ValueError("steps and groups_per_step must be at least 1, group_size at least 2")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = get_last_checkpoint(str(out)) if resume else None
    if resume and checkpoint is None:
        raise ValueError(f"nothing to resume: no checkpoint-N folder in '{out}'")
    seeds = seed_names()
    names = list(envs) if envs else seeds
    environments = {name: envfoundry.make(name) for name in names}
    lm, tokenizer = load_model(model)
    cuda = torch.cuda.is_available()
    held_out = range(eval_seeds)  # training seeds start at TRAIN_SEED_BASE: never these
    before = evaluate(lm, tokenizer, environments, held_out) if eval_seeds else {}
    curriculum = Curriculum(environments, controller=controller, group_size=group_size,
                            seed_envs=[n for n in names if n in seeds], seed=seed)  # fmt: skip
    if checkpoint is not None:
        curriculum.load(Path(checkpoint) / "curriculum.json")
    args = GRPOConfig(
        output_dir=str(out), use_cpu=not cuda, bf16=cuda, gradient_checkpointing=False,
        num_generations=group_size, per_device_train_batch_size=group_size * groups_per_step,
        max_completion_length=max_completion_length, max_steps=steps, learning_rate=learning_rate,
        logging_steps=1, report_to=report_to, save_strategy="steps", save_steps=save_steps or steps,
        shuffle_dataset=False, seed=seed,
        # The curriculum restores its own position: replaying the stream to skip batches would advance it.
        ignore_data_skip=True,
    )  # fmt: skip
    reward = CurriculumReward(curriculum, format_weight=format_weight)
    callback = make_callback(curriculum, out)
    trainer = GRPOTrainer(model=lm, processing_class=tokenizer, reward_funcs=[reward], args=args,
                          train_dataset=curriculum_dataset(curriculum, groups_per_step), callbacks=[callback])  # fmt: skip
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started
    trainer.save_model(str(out / "final"))
    curriculum.save(out / "final" / "curriculum.json")
    with (out / "train_log.jsonl").open("w") as handle:
        for entry in trainer.state.log_history:
            handle.write(json.dumps(entry) + "\n")
    after = evaluate(lm, tokenizer, environments, held_out) if eval_seeds else {}
    dead = [s["dead_share"] for s in callback.steps]
    summary = {
        "model": model, "envs": names, "controller": controller, "steps": steps, "seconds": round(seconds, 1),
        "dead_group_share": sum(dead) / len(dead) if dead else None,
        "eval": {"level": EVAL_LEVEL, "seeds": eval_seeds, "before": before, "after": after},
    }  # fmt: skip
    (out / "eval.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
