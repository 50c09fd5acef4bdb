"""``envfoundry evolve``: the self-evolving loop (``envfoundry.evolve``)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors
from envfoundry.cli.options import add_options, options_from


def cmd_evolve(args: argparse.Namespace) -> int:
    try:
        from envfoundry.evolve import EvolveConfig, evolve, load_config
        from envfoundry.llm import LLMError
    except ImportError as exc:
        raise UsageError(f"evolve needs the train extra (pip install -e '.[train]'): {exc}") from None
    # Bad settings, a model that cannot load, a sandbox that cannot run: one line each.
    with as_usage_errors(ValueError, OSError, ImportError, LLMError, sandbox="the sandbox cannot run"):
        config = load_config(args.config, options_from(args, EvolveConfig))
        state = evolve(config)
    print("\n".join(stage_table(state)))
    print(f"outputs in {config.out} (evolve.json; `envfoundry report {config.out}` draws them)")
    return 0


def stage_table(state: dict[str, Any]) -> list[str]:
    """One line per stage: proposals, admissions, generator reward, dead-group share, held-out pass rate."""
    lines = [f"held-out pass rate before stage 1: {state.get('pass_rate_before', 0.0):.1%}",
             f"{'stage':>5} {'proposed':>8} {'admitted':>8} {'gen reward':>10} {'dead groups':>11} "
             f"{'held-out':>8} {'seconds':>8}"]  # fmt: skip
    for entry in state["stages"]:
        generator = entry.get("generator", {})
        dead = entry.get("dead_group_share")
        reward = generator.get("mean_reward")
        seconds = sum(entry.get("seconds", {}).values())
        lines.append(f"{entry['stage']:>5} {generator.get('proposals', 0):>8} {generator.get('admitted', 0):>8} "
                     f"{'-' if reward is None else f'{reward:.3f}':>10} {'-' if dead is None else f'{dead:.0%}':>11} "
                     f"{entry.get('pass_rate', 0.0):>8.1%} {seconds:>8.0f}")  # fmt: skip
        if entry.get("train_skipped"):
            lines.append(f"      {entry['train_skipped']}")
    admitted = sum(entry.get("generator", {}).get("admitted", 0) for entry in state["stages"])
    if not admitted:
        lines.append("the generator admitted nothing: every stage trained on the seed environments alone")
    return lines


def add_commands(sub: Any) -> None:
    from envfoundry.evolve import EvolveConfig

    p = sub.add_parser("evolve", help="the self-evolving loop: write environments, validate, train, evaluate, repeat")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="settings as JSON or TOML (the option names below, with underscores); options override it")
    add_options(p, EvolveConfig)
    # Only the options given on the command line override the config file: the others leave no
    # attribute behind (their defaults stay in the help text, and in EvolveConfig).
    names = {field.name for field in dataclasses.fields(EvolveConfig)}
    for action in p._actions:
        if action.dest in names:
            action.default = argparse.SUPPRESS
    p.set_defaults(func=cmd_evolve)
