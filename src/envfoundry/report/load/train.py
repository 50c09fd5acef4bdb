"""A ``train`` run directory: ``eval.json`` (configuration, held-out pass rates before, after the
warm-up and after GRPO, dead-group share per step, swaps), ``curriculum.jsonl`` (one line per step:
level, accuracy and dead share per environment, swaps, the active set) and ``train_log.jsonl``
(TRL's logs: reward, loss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envfoundry.report.load.files import number, rates, read_json_object, read_jsonl
from envfoundry.report.model import Evaluation, Run, Step

# The held-out evaluations of eval.json, in the order they were measured.
MOMENTS = (("before", "base model"), ("warmup", "after the warm-up"), ("after", "after GRPO"))
# What is kept of each TRL log entry.
LOG_KEYS = ("reward", "reward_std", "loss", "frac_reward_zero_std")


def is_train_summary(data: Any) -> bool:
    """Whether ``data`` is a train run's ``eval.json`` (an evaluation file has ``"kind": "eval"``)."""
    return isinstance(data, dict) and "kind" not in data and isinstance(data.get("eval"), dict)


def read_steps(path: Path, notes: list[str], offset: int = 0, stage: int | None = None) -> list[Step]:
    """The curriculum's steps in ``curriculum.jsonl``, numbered from ``offset + 1``."""
    steps = []
    for position, record in enumerate(read_jsonl(path, notes), start=1):
        envs = record.get("envs") if isinstance(record.get("envs"), dict) else {}
        number_in_run = record.get("global_step")
        local = number_in_run if isinstance(number_in_run, int) and not isinstance(number_in_run, bool) else position
        steps.append(Step(
            step=offset + local, stage=stage,
            envs={str(name): {key: value for key, value in stats.items() if number(value) is not None}
                  for name, stats in envs.items() if isinstance(stats, dict)},
            dead_share=number(record.get("dead_share")), dead_unsolved_share=number(record.get("dead_unsolved_share")),
            reward_mean=number(record.get("reward_mean")),
            swaps=[swap for swap in record.get("swaps") or [] if isinstance(swap, dict)],
            active=[str(name) for name in record.get("active") or []],
        ))  # fmt: skip
    return steps


def read_log(path: Path, notes: list[str], offset: int = 0) -> list[dict[str, float]]:
    """TRL's per-step training logs (reward, loss, ...), steps offset by ``offset``."""
    points = []
    for entry in read_jsonl(path, notes):
        step = number(entry.get("step"))
        kept = {key: value for key in LOG_KEYS if (value := number(entry.get(key))) is not None}
        if step is not None and ("loss" in kept or "reward" in kept):
            points.append({"step": offset + step, **kept})
    return points


def train_evaluations(summary: dict[str, Any]) -> list[Evaluation]:
    """The held-out evaluations of an ``eval.json``: base model, after the warm-up (if any), after GRPO."""
    evaluation = summary.get("eval") if isinstance(summary.get("eval"), dict) else {}
    formats = evaluation.get("format") if isinstance(evaluation.get("format"), dict) else {}
    found = []
    for key, label in MOMENTS:
        pass_rates = rates(evaluation.get(key))
        if pass_rates:
            found.append(Evaluation(label, pass_rates, format_rates=rates(formats.get(key))))
    return found


def train_facts(summary: dict[str, Any] | None, steps: list[Step]) -> list[tuple[str, str]]:
    if summary is None:
        return [("steps logged", str(len(steps)))]
    config = summary.get("config") if isinstance(summary.get("config"), dict) else {}
    pool = summary.get("pool") if isinstance(summary.get("pool"), dict) else {}
    evaluation = summary.get("eval") if isinstance(summary.get("eval"), dict) else {}
    envs = config.get("envs")
    facts = [
        ("model", str(config.get("model", "?"))),
        ("environments", envs if isinstance(envs, str) else ", ".join(map(str, envs or []))),
        ("pool", f"{pool.get('size', '?')} environments ("
                 + ", ".join(f"{n} {origin}" for origin, n in (pool.get("origins") or {}).items())
                 + f"), {pool.get('active_size', '?')} active"),
        ("controller", str(config.get("controller", "?"))),
        ("steps", f"{summary.get('steps', '?')} GRPO steps of {config.get('groups_per_step', '?')} group(s) x "
                  f"{config.get('group_size', '?')} rollouts in {summary.get('seconds', '?')} s"),
    ]  # fmt: skip
    warmup = summary.get("warmup") or {}
    if warmup:
        facts.append(("warm-up", f"{warmup.get('steps', '?')} steps; loss {warmup.get('loss_first', '?')} -> "
                                 f"{warmup.get('loss_last', '?')}"))  # fmt: skip
    dead = number(summary.get("dead_group_share"))
    if dead is not None:
        facts.append(("dead-group share", f"{dead:.0%} of groups over the run"))
    facts.append(("active-set swaps", str(len(summary.get("swaps") or []))))
    if evaluation.get("seeds"):
        levels = ", ".join(f"{level:g}" for level in evaluation.get("levels") or [] if number(level) is not None)
        facts.append(("held-out evaluation", f"{evaluation['seeds']} instances per environment at level(s) {levels}"))
    return facts


def load_train(root: Path) -> Run:
    run = Run("train", root)
    summary = read_json_object(root / "eval.json", run.notes)
    if summary is None:
        run.notes.append(f"no eval.json in '{root}': the run has not finished (or was killed), so its held-out "
                         "results are missing")  # fmt: skip
    run.steps = read_steps(root / "curriculum.jsonl", run.notes)
    if not run.steps and summary:  # only the per-step dead share survives in eval.json
        shares = [number(share) for share in summary.get("dead_group_share_per_step") or []]
        run.steps = [Step(index, None, {}, share, None, None, [], []) for index, share in enumerate(shares, start=1)]
    run.log = read_log(root / "train_log.jsonl", run.notes)
    run.evaluations = train_evaluations(summary) if summary else []
    run.facts = train_facts(summary, run.steps)
    return run
