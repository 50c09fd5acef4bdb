"""GRPO training through TRL's ``GRPOTrainer``, fed by the curriculum.

Three pieces plug into an unmodified ``GRPOTrainer``:

* ``curriculum_dataset``: a streaming ``datasets.IterableDataset`` whose rows are the curriculum's
  group requests (chat prompt, the instance as JSON, environment, level, group id); TRL repeats
  each row ``num_generations`` times, which makes it a GRPO group.
* ``CurriculumReward``: the reward function: each completion scored by its environment (plus an
  optional format reward); every group's rewards go back to the curriculum.
* ``CurriculumCallback``: closes a curriculum step after every optimizer step (controllers move,
  the active set is curated), writes the step's statistics as JSONL, adds them to the trainer's
  logs (so TensorBoard / W&B show them beside TRL's metrics; ``curriculum_metrics``), and saves the
  curriculum state beside every model checkpoint.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Instance
from envfoundry.core.files import read_jsonl, write_atomic
from envfoundry.curriculum import Curriculum

SYSTEM_PROMPT = "Solve the task. Give the final answer inside <answer></answer>."


def completion_text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def curriculum_rows(curriculum: Curriculum, groups_per_batch: int) -> Iterator[dict[str, Any]]:
    """Rows for the trainer, ``groups_per_batch`` group requests at a time, forever."""
    while True:
        for request in curriculum.next_batch(groups_per_batch):
            yield {
                "prompt": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": request.instance.prompt},
                ],
                "instance": request.instance.to_json(),
                "env": request.env,
                "level": request.level,
                "group_id": request.group_id,
            }


def curriculum_dataset(curriculum: Curriculum, groups_per_batch: int) -> Any:
    from datasets import IterableDataset

    return IterableDataset.from_generator(curriculum_rows, gen_kwargs={"curriculum": curriculum,
                                                                       "groups_per_batch": groups_per_batch})  # fmt: skip


class CurriculumReward:
    """``reward(prompts, completions, instance, env, group_id, **kwargs) -> list[float]``.

    The environment's reward, plus ``format_weight`` for a well-formed answer block when asked.
    Rewards of each group are reported to the curriculum as they are computed.
    """

    __name__ = "envfoundry_reward"

    def __init__(self, curriculum: Curriculum, format_weight: float = 0.0) -> None:
        self.curriculum = curriculum
        self.format_weight = format_weight
        self.groups_reported = 0

    def __call__(self, prompts: list[Any], completions: list[Any], instance: list[str], env: list[str],
                 group_id: list[int], **kwargs: Any) -> list[float]:  # fmt: skip
        # One score_many call per environment: a sandboxed environment scores them in one round trip.
        by_env: dict[str, list[int]] = defaultdict(list)
        for index, name in enumerate(env):
            by_env[name].append(index)
        verdicts: list[Any] = [None] * len(completions)
        for name, indices in by_env.items():
            scored = self.curriculum.envs[name].score_many([Instance.from_json(instance[i]) for i in indices],
                                                           [completion_text(completions[i]) for i in indices])  # fmt: skip
            for i, verdict in zip(indices, scored, strict=True):
                verdicts[i] = verdict
        rewards = []
        groups: dict[int, list[float]] = defaultdict(list)
        for verdict, gid in zip(verdicts, group_id, strict=True):
            groups[gid].append(verdict.reward)
            rewards.append(verdict.reward + (self.format_weight if verdict.format_ok else 0.0))
        for gid, group_rewards in groups.items():
            if self.curriculum.awaiting(gid):  # a group reused for another optimisation pass reports once
                self.curriculum.report(gid, group_rewards)
                self.groups_reported += 1
        return rewards


def curriculum_metrics(stats: dict[str, Any]) -> dict[str, float]:
    """One curriculum step's statistics as flat scalars for a metrics logger."""
    metrics = {
        "curriculum/dead_share": stats["dead_share"],
        "curriculum/reward_mean": stats["reward_mean"],
        "curriculum/groups": stats["groups"],
        "curriculum/swaps": len(stats["swaps"]),
    }
    for name, env in stats["envs"].items():
        for key in ("level", "accuracy", "dead_share"):
            metrics[f"curriculum/{name}/{key}"] = env[key]
    return metrics


def resume_step_log(path: Path, last_step: int) -> list[dict[str, Any]]:
    """The steps a resumed run keeps from its step log (``curriculum.jsonl``): those up to its
    checkpoint's ``last_step``. The file is rewritten (atomically) to hold only them, since the steps
    after the checkpoint are trained and logged again; a line torn by a kill is dropped with them."""
    by_step: dict[int, dict[str, Any]] = {}  # a step logged twice (by an older resume): the later line
    for step in read_jsonl(path):
        number = step.get("global_step") if isinstance(step, dict) else None
        if isinstance(number, int) and number <= last_step:
            by_step[number] = step
    kept = [by_step[number] for number in sorted(by_step)]
    write_atomic(path, "".join(json.dumps(step) + "\n" for step in kept))
    return kept


def make_callback(curriculum: Curriculum, out_dir: Path, steps: list[dict[str, Any]] | None = None) -> Any:
    """The callback; put it first in the trainer's callback list (``callbacks.insert(0, ...)``) so
    the curriculum's metrics are in each log before the reporting callbacks see it. ``steps``: the
    steps already logged, for a resumed run (``resume_step_log``)."""
    from transformers import TrainerCallback

    class CurriculumCallback(TrainerCallback):
        def __init__(self) -> None:
            self.log_path = Path(out_dir) / "curriculum.jsonl"
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.steps: list[dict[str, Any]] = list(steps or [])
            self._unlogged: dict[str, float] = {}

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            stats = curriculum.end_step()
            if not stats["groups"]:
                return
            stats["global_step"] = state.global_step
            self.steps.append(stats)
            self._unlogged = curriculum_metrics(stats)
            with self.log_path.open("a") as handle:
                handle.write(json.dumps(stats) + "\n")

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:  # fmt: skip
            # The latest curriculum step rides along with the next training log (not evaluation logs).
            if logs is not None and "loss" in logs and self._unlogged:
                logs.update(self._unlogged)
                self._unlogged = {}

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            curriculum.save(checkpoint / "curriculum.json")

    return CurriculumCallback()
