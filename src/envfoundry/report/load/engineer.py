"""An environment-engineer run directory (``envfoundry engineer --out``)::

    engineer.json        {"kind": "engineer", "env", "engineer", "ablate", "config", "space", "start"}
    stages.jsonl         one line per finished stage: {"stage", "config", "policy", "summary",
                         "engineer": {"outcome", "rationale", "attempts", "adjusted", "note", ...},
                         "diff", "next_config", "seconds"}
    stage-N/train/       each stage's train run directory (curriculum.jsonl, train_log.jsonl)

A stage's ``summary`` holds ``training`` (dead-group share, reward), ``cells`` (the configuration
trained on, ``"cell": "current"``, and its neighbours: pass rate, failures by class, failing
replies) and ``validation`` (fixed levels of the space: ``cells`` by label, each with its
``level``). The validation cells become one evaluation per stage (pass rate over level); the
stages' training steps (dead-group share, reward) are drawn one after another, without the
curriculum's levels (the configuration is pinned: its level means nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.report.load.files import number, read_json, read_jsonl
from envfoundry.report.load.train import read_log, read_steps
from envfoundry.report.model import EngineerStage, Evaluation, Run


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def load_engineer(root: Path) -> Run:
    data = read_json(root / "engineer.json")
    if not isinstance(data, dict) or data.get("kind") != "engineer":
        raise InvalidInputError(f"'{root / 'engineer.json'}' is not an engineer run's settings: it has no "
                                '"kind": "engineer"')  # fmt: skip
    run = Run("engineer", root)
    env = str(data.get("env", "?"))
    records = [r for r in read_jsonl(root / "stages.jsonl", run.notes) if isinstance(r.get("stage"), int)]
    offset = 0
    for record in sorted(records, key=lambda r: r["stage"]):
        summary, engineer = _dict(record.get("summary")), _dict(record.get("engineer"))
        current = next((cell for cell in _list(summary.get("cells")) if _dict(cell).get("cell") == "current"), {})
        run.engineer_stages.append(EngineerStage(
            stage=record["stage"], config=_dict(record.get("config")), pass_rate=number(current.get("pass_rate")),
            validation_pass_rate=number(_dict(summary.get("validation")).get("pass_rate")),
            dead_group_share=number(_dict(summary.get("training")).get("dead_group_share")),
            failures={str(k): int(v) for k, v in _dict(current.get("failures")).items() if number(v) is not None},
            outcome=str(engineer.get("outcome", "?")), diff=[d for d in _list(record.get("diff")) if isinstance(d, dict)],
            rationale=str(engineer.get("rationale") or ""), note=str(engineer.get("note") or ""),
            adjusted=[str(a) for a in _list(engineer.get("adjusted"))],
            replies=[a for a in _list(engineer.get("attempts")) if isinstance(a, dict)],
        ))  # fmt: skip
        validation = _validation(env, record["stage"], _dict(_dict(summary.get("validation")).get("cells")))
        if validation is not None:
            run.evaluations.append(validation)
        train = root / f"stage-{record['stage']}" / "train"
        steps = read_steps(train / "curriculum.jsonl", run.notes, offset, record["stage"])
        for step in steps:
            step.envs = {}  # the curriculum's level means nothing here: the configuration is pinned
        if steps:
            run.stage_starts.append((record["stage"], offset + 1))
            run.log += read_log(train / "train_log.jsonl", run.notes, offset)
            run.steps += steps
            offset = steps[-1].step
    config = _dict(data.get("config"))
    rejected = sum(stage.outcome == "rejected" for stage in run.engineer_stages)
    run.facts = [
        ("environment", env),
        ("engineer", str(data.get("engineer", "?")) + (f" (without {', '.join(map(str, data['ablate']))})"
                                                       if data.get("ablate") else "")),  # fmt: skip
        ("first configuration", ", ".join(f"{k}={v}" for k, v in _dict(data.get("start")).items())),
        ("stages done", f"{len(run.engineer_stages)} of {config.get('stages', '?')}"),
        ("proposals rejected", f"{rejected} (the previous configuration stood)"),
        *((str(key), _plain(value)) for key, value in config.items() if key not in ("env", "engineer", "ablate")),
    ]
    return run


def _validation(env: str, stage: int, cells: dict[str, Any]) -> Evaluation | None:
    """The stage's validation cells as an evaluation of ``env`` at their levels."""
    evaluation = Evaluation(f"stage {stage}", {}, stage=stage)
    for cell in cells.values():
        level, rate = number(_dict(cell).get("level")), number(_dict(cell).get("pass_rate"))
        if level is None or rate is None:
            continue
        key = f"{level:g}"
        evaluation.pass_rates.setdefault(env, {})[key] = rate
        for target, name in ((evaluation.format_rates, "format_rate"), (evaluation.mean_rewards, "mean_reward"),
                             (evaluation.counts, "n"), (evaluation.errors, "errors")):  # fmt: skip
            if number(cell.get(name)) is not None:
                target.setdefault(env, {})[key] = cell[name]
        examples = [example for example in _list(cell.get("examples")) if isinstance(example, dict)]
        if examples:
            evaluation.examples.setdefault(env, {})[key] = examples
    return evaluation if evaluation.pass_rates else None


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "–"
    return str(value)
