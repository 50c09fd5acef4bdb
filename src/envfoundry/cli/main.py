"""The ``envfoundry`` command line.

Every listing takes ``--json``. Environment files given by path run in the sandbox unless
``--trust`` says otherwise; ``doctor`` reports which isolation is active. Bad input (unknown environment, bad parameter, unreadable file)
prints one line on stderr and exits with status 2; nothing prints a traceback for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors, first_line
from envfoundry.cli.options import add_options, options_from
from envfoundry.core import Environment, Instance, registered
from envfoundry.errors import EnvfoundryError
from envfoundry.resolve import make
from envfoundry.sandbox.isolation import isolation_setting

# Neither imports torch: the parser shows their defaults.
from envfoundry.train.run import WARMUP_OUT, WARMUP_RUN_OPTIONS, TrainConfig
from envfoundry.train.warmup import WarmupConfig


def _make(name: str, trust: bool = False) -> Environment:
    """A registered environment, a reasoning-gym dataset (``rg:NAME``), or a file: sandboxed unless
    ``--trust`` says to run it here."""
    from envfoundry.sandbox import SandboxError, SandboxUnavailable

    try:
        return make(name, sandbox=False if trust else None)
    except (ValueError, TypeError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    except (SandboxError, SandboxUnavailable) as exc:
        raise UsageError(f"cannot run '{name}' in the sandbox: {exc}") from None


def _describe(env: Environment) -> dict[str, Any]:
    return {
        "name": env.name,
        "version": env.version,
        "asymmetry": env.asymmetry,
        "family": env.family,
        "description": env.description,
        "parameters": env.parameter_space.json_schema(),
    }


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


# ----- list / show ------------------------------------------------------------------------------
def _reasoning_gym_catalogue() -> list[dict[str, Any]]:
    """Every reasoning-gym dataset with its recorded vetting verdict; none without reasoning-gym."""
    from envfoundry.adapters import reasoning_gym

    try:
        return reasoning_gym.catalogue()
    except ImportError:
        return []


def cmd_list(args: argparse.Namespace) -> int:
    envs = [_make(name) for name in registered()]
    datasets = _reasoning_gym_catalogue()
    if args.json:
        _print_json([{**_describe(env), "vetted": True} for env in envs] + datasets)
        return 0
    width = max(len(env.name) for env in envs)
    print(f"{'name':<{width}}  {'asymmetry':<11}  {'family':<12}  parameters")
    for env in envs:
        print(f"{env.name:<{width}}  {env.asymmetry:<11}  {env.family:<12}  {', '.join(env.parameter_space)}")
    print(f"\n{len(envs)} environments. `envfoundry show NAME` describes one.")
    if datasets:
        vetted = [entry["name"] for entry in datasets if entry["vetted"]]
        print(f"reasoning-gym: {len(datasets)} datasets as rg:NAME, {len(vetted)} pass the check battery "
              "(`envfoundry list --json` gives each verdict).")  # fmt: skip
    return 0


def _param_line(name: str, schema: dict[str, Any]) -> str:
    if "enum" in schema:
        kind = "choice of " + ", ".join(str(c) for c in schema["enum"]) + " (easiest first)"
    else:
        scale = ", log scale" if schema.get("x-scale") == "log" else ""
        harder = "larger is harder" if schema["x-harder"] == "up" else "smaller is harder"
        kind = f"{schema['type']} in [{schema['minimum']}, {schema['maximum']}] ({harder}{scale})"
    text = f"  {name}: {kind}"
    if schema.get("description"):
        text += f"\n      {schema['description']}"
    return text


def cmd_show(args: argparse.Namespace) -> int:
    env = _make(args.name, args.trust)
    info = _describe(env)
    if args.json:
        info["levels"] = {str(level): env.parameter_space.at_level(level) for level in (0.0, 0.5, 1.0)}
        _print_json(info)
        return 0
    print(f"{env.name} (version {env.version}, {env.asymmetry}{', ' + env.family if env.family else ''})\n")
    print(env.description + "\n")
    print("Parameters:")
    for name, schema in info["parameters"]["properties"].items():
        print(_param_line(name, schema))
    print("\nAt level 0 / 0.5 / 1:")
    for level in (0.0, 0.5, 1.0):
        print(f"  {level:<4} {json.dumps(env.parameter_space.at_level(level))}")
    return 0


# ----- sample -----------------------------------------------------------------------------------
def cmd_sample(args: argparse.Namespace) -> int:
    from envfoundry.sandbox import SandboxError

    if args.n < 1:
        raise UsageError(f"--n must be at least 1, got {args.n}")
    env = _make(args.name, args.trust)
    seeds = range(args.seed, args.seed + args.n)
    try:
        params = env.parameter_space.parse(args.param or [])
        instances = env.sample_many(seeds, level=args.level, params=params)  # one round trip when sandboxed
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except SandboxError as exc:
        raise UsageError(f"sampling failed in the sandbox: {exc}") from None
    if args.jsonl:
        for instance in instances:
            print(instance.to_json())
    elif args.json:
        _print_json([instance.to_dict() for instance in instances])
    else:
        for instance in instances:
            level = "" if instance.level is None else f" level={instance.level}"
            print(f"=== {env.name} seed={instance.seed}{level} params={json.dumps(instance.params)}")
            print(instance.prompt)
            print(f"--- reference: {instance.reference}\n")
    return 0


# ----- score ------------------------------------------------------------------------------------
def _read_instance(path: str, index: int | None) -> Instance:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read instance file '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:  # JSON Lines: one instance per line
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise UsageError(f"'{path}' is neither JSON nor JSON Lines: {exc.msg}") from None
    records = data if isinstance(data, list) else [data]
    if not records:
        raise UsageError(f"'{path}' holds no instances")
    if index is None:
        if len(records) > 1:
            raise UsageError(f"'{path}' holds {len(records)} instances; choose one with --index")
        index = 0
    if not 0 <= index < len(records):
        raise UsageError(f"--index {index} is out of range: '{path}' holds {len(records)} instances")
    try:
        return Instance.from_dict(records[index])
    except (ValueError, TypeError) as exc:
        raise UsageError(f"'{path}': {exc}") from None


def cmd_score(args: argparse.Namespace) -> int:
    env = _make(args.name, args.trust)
    if args.instance == "-" and args.response == "-":
        raise UsageError("--instance and --response cannot both be read from standard input")
    instance = _read_instance(args.instance, args.index)
    response = sys.stdin.read() if args.response == "-" else args.response
    try:
        verdict = env.score_answer(instance, response) if args.bare else env.score(instance, response)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        _print_json(verdict.to_dict())
    else:
        print(f"reward={verdict.reward:g} correct={verdict.correct} format_ok={verdict.format_ok}")
        print(f"reason: {verdict.reason}")
        if verdict.metadata:
            print(f"metadata: {json.dumps(verdict.metadata, sort_keys=True)}")
    return 0


# ----- doctor -----------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from envfoundry.sandbox.doctor import diagnose, format_report
    from envfoundry.sandbox.isolation import IsolationSettingError

    try:
        report = diagnose()
    except IsolationSettingError as exc:  # a bad ENVFOUNDRY_SANDBOX
        raise UsageError(str(exc)) from None
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return 0 if report["healthy"] else 1  # 1: untrusted code would not be confined (or not run at all)


# ----- train / warmup ---------------------------------------------------------------------------
def _train_api() -> Any:
    try:
        from envfoundry.train import run
    except ImportError as exc:
        raise UsageError(f"training needs the train extra (pip install -e '.[train]'): {exc}") from None
    return run


def _run_training(job: Any) -> dict[str, Any]:
    """Run ``job()`` with every expected failure as one line."""
    # Bad settings, a model that cannot load, a missing package, an environment the sandbox refuses.
    with as_usage_errors(ValueError, OSError, ImportError, sandbox="an environment in the pool cannot run in the sandbox"):
        return job()


def _rate_table(columns: dict[str, dict[str, dict[str, float]]],
                formats: dict[str, dict[str, dict[str, float]]]) -> list[str]:  # fmt: skip
    """Held-out pass rates, one row per environment and level, one column per stage of the run, with
    the share of replies that had an answer block in brackets."""
    stages = [stage for stage, rates in columns.items() if rates]
    first = columns[stages[0]] if stages else {}
    width = max([len(name) for name in first] + [11])
    lines = [f"  {'environment':<{width}}  {'level':>5}  " + "  ".join(f"{stage:>14}" for stage in stages)]
    for name, curve in first.items():
        for level in curve:
            cells = []
            for stage in stages:
                answered = formats.get(stage, {}).get(name, {}).get(level)
                cells.append(f"{columns[stage][name][level]:>6.0%}" + (f" ({answered:>4.0%})" if answered is not None
                                                                        else " " * 7))  # fmt: skip
            lines.append(f"  {name:<{width}}  {level:>5}  " + "  ".join(f"{cell:>14}" for cell in cells))
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    run = _train_api()

    def job() -> dict[str, Any]:
        return run.train(TrainConfig(**options_from(args, TrainConfig)))

    summary = _run_training(job)
    dead = summary["dead_group_share"]
    print(f"\ntrained {summary['steps']} steps in {summary['seconds']} s"
          + (f"; dead-group share {dead:.0%} ({summary['dead_unsolved_share']:.0%} of groups failed every rollout)"
             if dead is not None else "")
          + f"; {len(summary['swaps'])} active-set swaps")  # fmt: skip
    evaluation = summary["eval"]
    stages = {"base": "before", "warm-up": "warmup", "GRPO": "after"}
    if evaluation["before"]:
        print(f"held-out pass rate (answer-block rate), {evaluation['seeds']} instances per environment and level:")
        print("\n".join(_rate_table({label: evaluation[key] for label, key in stages.items()},
                                    {label: evaluation["format"][key] for label, key in stages.items()})))  # fmt: skip
    print("dead-group share per step: " + " ".join(f"{share:.0%}" for share in summary["dead_group_share_per_step"]))
    print(f"outputs in {args.out} (eval.json)")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    run = _train_api()

    def job() -> dict[str, Any]:
        return run.warm_up(model=args.model, envs=args.envs, out=args.out, config=WarmupConfig(**options_from(args, WarmupConfig)),
                           eval_seeds=args.eval_seeds, eval_levels=args.eval_levels,
                           max_new_tokens=args.max_completion_length)  # fmt: skip

    summary = _run_training(job)
    print(f"\nwarm-up: {summary['config']['steps']} steps, {sum(summary['examples'].values())} examples in "
          f"{summary['seconds']} s; loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f}")  # fmt: skip
    evaluation = summary["eval"]
    if evaluation["before"]:
        print(f"held-out pass rate (answer-block rate), {evaluation['seeds']} instances per environment and level:")
        print("\n".join(_rate_table({"base": evaluation["before"], "warm-up": evaluation["after"]},
                                    {"base": evaluation["format_before"], "warm-up": evaluation["format_after"]})))  # fmt: skip
    print(f"checkpoint in {args.out}: continue with `envfoundry train --model {args.out}`")
    return 0


# ----- tour -------------------------------------------------------------------------------------
def cmd_tour(args: argparse.Namespace) -> int:
    from envfoundry.cli.tour import run_tour

    return run_tour(seeds=args.seeds, out=args.out, as_json=args.json)


TRUST_HELP = "run an environment file in this process instead of the sandbox (only for code you trust)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envfoundry", description="Verifiable reasoning environments for RL training of language models."
    )
    parser.add_argument("--isolation", choices=["bubblewrap", "process"], default=None,
                        help="how untrusted environments are sandboxed: bubblewrap (the default; where it cannot run, "
                             "nothing untrusted runs) or process (weaker, knowingly: shares the host's files and "
                             "network); sets ENVFOUNDRY_SANDBOX for the command")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered environments")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="describe one environment and its parameter space")
    p.add_argument("name", help="a registered name, rg:NAME (a reasoning-gym dataset) or a path to an environment module")
    p.add_argument("--json", action="store_true", help="print JSON (with the JSON Schema of the parameters)")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("sample", help="sample instances")
    p.add_argument("name", help="a registered name, rg:NAME (a reasoning-gym dataset) or a path to an environment module")
    p.add_argument("--level", type=float, default=None, help="difficulty in [0, 1] (default 0.5)")
    p.add_argument("--param", action="append", metavar="K=V", help="set one parameter directly (repeatable)")
    p.add_argument("--n", type=int, default=1, help="how many instances (seeds S, S+1, ...)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print a JSON array of instances")
    fmt.add_argument("--jsonl", action="store_true", help="print one JSON instance per line")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("score", help="score a response to a sampled instance")
    p.add_argument("name", help="a registered name, rg:NAME (a reasoning-gym dataset) or a path to an environment module")
    p.add_argument(
        "--instance", required=True, metavar="FILE", help="instance JSON, a JSON array or JSON Lines (- for stdin)"
    )
    p.add_argument("--index", type=int, default=None, help="which instance, when FILE holds several")
    p.add_argument("--response", required=True, metavar="TEXT", help="the model's response, or - to read stdin")
    p.add_argument("--bare", action="store_true", help="the response is the bare answer, without <answer> tags")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("doctor", help="report which sandbox isolation is active and prove that it holds")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_doctor)

    from envfoundry.cli import convert, engineer, evaluate, evolve, export, openenv, report, serve, synth

    synth.add_commands(sub)
    convert.add_commands(sub)
    report.add_commands(sub)
    evaluate.add_commands(sub)
    evolve.add_commands(sub)
    engineer.add_commands(sub)
    openenv.add_commands(sub)
    serve.add_commands(sub)
    export.add_commands(sub)

    # train and warmup take their options from the config dataclasses: each default is written once.
    p = sub.add_parser("train", help="GRPO training with TRL on a curriculum over environments")
    add_options(p, TrainConfig)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("warmup", help="format warm-up: supervised fine-tuning on the environments' own references")
    add_options(p, TrainConfig, only=WARMUP_RUN_OPTIONS, defaults={"out": WARMUP_OUT})
    add_options(p, WarmupConfig)
    p.set_defaults(func=cmd_warmup)

    p = sub.add_parser("tour", help="a short tour: every environment sampled and scored at three levels")
    p.add_argument("--seeds", type=int, default=20, help="seeds per environment and level")
    p.add_argument("--out", default=None, metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.set_defaults(func=cmd_tour)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with isolation_setting(args.isolation):
            return args.func(args)
    except UsageError as exc:
        print(f"envfoundry: error: {exc}", file=sys.stderr)
        return 2
    except EnvfoundryError as exc:  # e.g. the sandbox refusing to run without isolation: one line, not a traceback
        print(f"envfoundry: error: {first_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `envfoundry sample ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
