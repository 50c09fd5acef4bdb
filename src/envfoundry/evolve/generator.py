"""The generator role: the policy (or another model) writes environments, and earns EvoEnv's reward.

``generator_reward`` turns one candidate's validation reports into a reward in [0, 1]:

* admitted: ``0.5`` for passing every stage, plus ``0.3 x`` how near the solver's pass rate came
  to the calibration target (0.3) at its best level, plus ``0.2 x`` a novelty bonus (how far below
  the novelty threshold its nearest neighbour's similarity stayed);
* rejected: at most ``REJECTED_CAP`` (0.2), in proportion to the validation steps it passed
  before the one that rejected it (extract, static, execution, novelty, review, calibration), so
  a module that parses beats prose, and one that runs beats one that does not, while any admitted
  environment outranks every rejected one. The shaping changes nothing about admission.

Two ways to generate. With ``--generator policy`` and a local policy, the proposals are GRPO
rollouts on the policy itself (``train_generator``): TRL's ``GRPOTrainer`` samples a group of
modules per proposal prompt, each is validated and archived inside the reward function, and the
reward trains the policy to construct environments, not only to solve them. Otherwise (a server or
a separate model) ``envfoundry.synth.synthesize`` proposes and judges, and the same reward is
computed from the archive's records for the stage summary (nothing is trained on it).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from envfoundry.archive import Archive
from envfoundry.synth.proposer import Proposer
from envfoundry.synth.stages.base import Candidate, Context
from envfoundry.synth.synthesize import EXTRACT, REPAIRABLE, judge_reply, novelty_index
from envfoundry.train.grpo import completion_text

VALIDATION_STEPS = (EXTRACT, "static", "execution", "novelty", "review", "calibration")
REJECTED_CAP = 0.2
TARGET = 0.3
# Of the generator's proposals, the share that mutates an admitted environment, and the share that
# repairs a rejected one (when the archive has any); the rest are new.
MUTATE_SHARE = 0.3
REPAIR_SHARE = 0.2


def generator_reward(reports: Sequence[dict[str, Any]], admitted: bool) -> float:
    """EvoEnv's reward for one candidate from its stage reports (``StageReport.to_dict()`` form)."""
    if not admitted:
        passed = 0
        for report in reports:
            if not report.get("passed"):
                break
            passed += 1
        # An extract failure is the only report of a reply without a module: no step passed.
        steps_passed = passed + (1 if reports and reports[0].get("name") != EXTRACT else 0)
        return REJECTED_CAP * min(steps_passed, len(VALIDATION_STEPS) - 1) / len(VALIDATION_STEPS)
    by_name = {report.get("name"): report for report in reports}
    calibration = by_name.get("calibration") or {}
    curve = calibration.get("curve") or {}
    nearness = max((1.0 - abs(float(rate) - TARGET) / (1.0 - TARGET) for rate in curve.values()), default=0.0)
    novelty = by_name.get("novelty") or {}
    similarity, threshold = novelty.get("similarity"), novelty.get("threshold")
    bonus = 1.0 if similarity is None or not threshold else max(0.0, min(1.0, 1.0 - float(similarity) / threshold))
    return 0.5 + 0.3 * max(0.0, nearness) + 0.2 * bonus


def record_rewards(records: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per archived candidate: its mode, outcome and reward (for the stage summary)."""
    return [
        {
            "mode": (record.lineage or {}).get("mode", "?"),
            "admitted": bool(record.admitted),
            "failed_stage": record.failed_stage,
            "reward": round(generator_reward(record.reports, record.admitted), 4),
        }
        for record in records
    ]


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    rewards = [row["reward"] for row in rows]
    return {
        "proposals": len(rows),
        "admitted": sum(row["admitted"] for row in rows),
        "mean_reward": round(sum(rewards) / len(rewards), 4) if rewards else None,
        "rewards": rewards,
        "modes": {mode: sum(row["mode"] == mode for row in rows) for mode in sorted({row["mode"] for row in rows})},
    }


def proposal_rows(root: str, proposer: Proposer, rng: random.Random) -> Iterator[dict[str, Any]]:
    """Generator prompts, forever: a new environment, a mutation of an admitted one or a repair of
    a rejected one, from the archive at ``root`` (read afresh for every prompt, so this stage's
    admissions count; a path, not the archive: ``datasets`` pickles what it is given)."""
    with Archive(root) as archive:
        while True:
            admitted = archive.environments()
            archived = [env.name for env in admitted]
            roll = rng.random()
            rejected = [r for r in archive.candidates(admitted=False, limit=50) if r.failed_stage in REPAIRABLE]
            if admitted and roll < MUTATE_SHARE:
                parent = rng.choice(admitted)
                proposal = proposer.mutate(parent.name, archive.source(parent.name), archived)
            elif rejected and roll < MUTATE_SHARE + REPAIR_SHARE:
                record = rng.choice(rejected)
                candidate = Candidate(archive.source(record.source_hash), lineage=record.lineage, name=record.env_name)
                proposal = proposer.repair(candidate, record.reason)
            else:
                proposal = proposer.new(archived)
            yield {"prompt": proposal.messages, "lineage": json.dumps(proposal.lineage)}


class GeneratorReward:
    """``reward(prompts, completions, lineage, **kwargs)``: each completion's module is validated
    and archived (``judge_reply``), and earns ``generator_reward``."""

    __name__ = "evoenv_generator_reward"

    def __init__(self, context: Context, archive: Any, run_id: str) -> None:
        self.context, self.archive, self.run_id = context, archive, run_id

    def __call__(self, prompts: list[Any], completions: list[Any], lineage: list[str], **kwargs: Any) -> list[float]:
        rewards = []
        for completion, labels in zip(completions, lineage, strict=True):
            labels = json.loads(labels)
            result = judge_reply(completion_text(completion), labels, self.context, self.archive, self.run_id)
            rewards.append(generator_reward([report.to_dict() for report in result.reports], result.admitted))
        return rewards


def train_generator(model_spec: str, archive: Any, solver: Any, out: Path, *, steps: int, group_size: int,
                    max_tokens: int, learning_rate: float, seed: int, run_info: dict[str, Any],
                    examples: int, example_chars: int, resume: bool) -> dict[str, Any]:  # fmt: skip
    """GRPO on the generator role: ``steps`` steps of ``group_size`` modules for one proposal each;
    the trained policy is saved to ``out/final``. Returns the stage's generator summary."""
    from trl import GRPOConfig, GRPOTrainer

    from envfoundry.train.device import use_bf16, use_cuda
    from envfoundry.train.run import last_checkpoint, load_model

    out.mkdir(parents=True, exist_ok=True)
    checkpoint = last_checkpoint(out, needs=("trainer_state.json",)) if resume else None
    run_id = archive.start_run({"rounds": steps, "candidates": group_size, "seed": seed, "generator": model_spec,
                                "solver": getattr(solver, "name", None), "max_tokens": max_tokens, "repair": False,
                                "mode": "grpo", **run_info})  # fmt: skip
    context = Context(generator=None, solver=solver, novelty_index=novelty_index(archive))
    reward = GeneratorReward(context, archive, run_id)
    rng = random.Random(seed)
    proposer = Proposer(model_spec, rng, examples, example_chars)
    from datasets import IterableDataset

    dataset = IterableDataset.from_generator(proposal_rows, gen_kwargs={"root": str(archive.root),
                                                                        "proposer": proposer, "rng": rng})  # fmt: skip
    lm, tokenizer = load_model(model_spec)
    cuda = use_cuda()
    if cuda:
        lm.to("cuda")
    args = GRPOConfig(
        output_dir=str(out), use_cpu=not cuda, bf16=use_bf16(), gradient_checkpointing=False,
        num_generations=group_size, per_device_train_batch_size=group_size, max_completion_length=max_tokens,
        max_steps=steps, learning_rate=learning_rate, logging_steps=1, report_to="none", save_strategy="steps",
        save_steps=1, save_total_limit=1, shuffle_dataset=False, seed=seed, ignore_data_skip=True,
    )  # fmt: skip
    trainer = GRPOTrainer(model=lm, processing_class=tokenizer, reward_funcs=[reward], args=args,
                          train_dataset=dataset)  # fmt: skip
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    finally:
        archive.finish_run(run_id, {"outcomes": outcomes(archive.candidates(run_id=run_id)),
                                    "funnel": archive.funnel(run_id)})  # fmt: skip
    trainer.save_model(str(out / "final"))
    tokenizer.save_pretrained(str(out / "final"))
    # A resumed run's rows before the kill are in the archive, not in ``reward.rows``: read them all back.
    summary = summarise(record_rewards(stage_records(archive, run_info)))
    summary["trained"] = True
    summary["log"] = trainer.state.log_history
    return summary


def outcomes(records: Sequence[Any]) -> dict[str, int]:
    """Archived candidates counted by outcome, labelled as ``synthesize`` labels them ("admitted",
    "rejected at STAGE", with "repair:" in front for repair attempts)."""
    counts: dict[str, int] = {}
    for record in records:
        key = ("repair:" if (record.lineage or {}).get("mode") == "repair" else "") + (
            "admitted" if record.admitted else f"rejected at {record.failed_stage or '?'}")
        counts[key] = counts.get(key, 0) + 1
    return counts


def stage_records(archive: Any, run_info: dict[str, Any]) -> list[Any]:
    """Every candidate recorded by the runs labelled with ``run_info`` (oldest first)."""
    runs = {run["id"] for run in archive.runs()
            if all(run["config"].get(key) == value for key, value in run_info.items())}  # fmt: skip
    records = [record for run_id in runs for record in archive.candidates(run_id=run_id)]
    return sorted(records, key=lambda record: record.id)

