"""``envfoundry engineer``: the environment engineer's stage loop (``envfoundry.engineer``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors
from envfoundry.cli.options import add_options, options_from


def cmd_engineer(args: argparse.Namespace) -> int:
    try:
        from envfoundry.engineer import EngineerConfig, resume_config, run_engineer
        from envfoundry.llm import LLMError
    except ImportError as exc:
        raise UsageError(f"engineer needs the train extra (pip install -e '.[train]'): {exc}") from None
    # Bad settings, a model that cannot load, a sandbox that cannot run: one line each.
    with as_usage_errors(ValueError, OSError, ImportError, LLMError, sandbox="the sandbox cannot run"):
        given = options_from(args, EngineerConfig)
        # --resume continues the run with its own settings; options given again override them.
        config = resume_config(given.pop("out", EngineerConfig.out), given) if given.get("resume") else EngineerConfig(**given)
        state = run_engineer(config)
    print("\n".join(stage_table(state)))
    print(f"outputs in {config.out} (stages.jsonl; `envfoundry report {config.out}` draws them)")
    return 0


def _compact(config: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in config.items())


def _percent(value: Any) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value:.0%}"


def stage_table(state: dict[str, Any]) -> list[str]:
    """One line per stage (pass rate on its configuration, validation pass rate, dead-group share,
    what the engineer did and the change), then its rationale and any note."""
    engineer = state.get("engineer", "?") + (f" without {', '.join(state['ablate'])}" if state.get("ablate") else "")
    lines = [f"{state.get('env')}, engineer {engineer}; first configuration: {_compact(state.get('start', {}))}",
             f"{'stage':>5} {'pass':>5} {'valid.':>6} {'dead':>5} {'engineer':>9}  change"]  # fmt: skip
    for record in state["stages"]:
        summary, proposal = record["summary"], record["engineer"]
        current = next(cell for cell in summary["cells"] if cell["cell"] == "current")
        change = ", ".join(f"{d['param']} {d['from']} -> {d['to']}" for d in record["diff"]) or "no change"
        lines.append(f"{record['stage']:>5} {_percent(current['pass_rate']):>5} "
                     f"{_percent(summary['validation']['pass_rate']):>6} "
                     f"{_percent(summary['training']['dead_group_share']):>5} {proposal['outcome']:>9}  {change}")  # fmt: skip
        if proposal.get("rationale"):
            lines.append(f"      rationale: {json.dumps(proposal['rationale'])[1:-1][:200]}")
        for adjusted in proposal.get("adjusted", []):
            lines.append(f"      clamped: {adjusted}")
        if proposal.get("note"):
            lines.append(f"      {proposal['note'][:300]}")
    return lines


def add_commands(sub: Any) -> None:
    from envfoundry.engineer import EngineerConfig

    p = sub.add_parser("engineer", help="the environment engineer: train, evaluate, and let a model (or a baseline) "
                                        "write the next stage's configuration")  # fmt: skip
    add_options(p, EngineerConfig)
    # Only the options given on the command line are passed on: --resume keeps the run's own settings
    # for the others (their defaults stay in the help text, and in EngineerConfig).
    names = {field.name for field in dataclasses.fields(EngineerConfig)}
    for action in p._actions:
        if action.dest in names:
            action.default = argparse.SUPPRESS
    p.set_defaults(func=cmd_engineer)
