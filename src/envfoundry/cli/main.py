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

from envfoundry.cli.errors import UsageError
from envfoundry.core import Environment, Instance, make, registered
from envfoundry.train.warmup import WarmupConfig  # imports no torch: the parser shows its defaults


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
def cmd_list(args: argparse.Namespace) -> int:
    envs = [_make(name) for name in registered()]
    if args.json:
        _print_json([_describe(env) for env in envs])
        return 0
    width = max(len(env.name) for env in envs)
    print(f"{'name':<{width}}  {'asymmetry':<11}  {'family':<12}  parameters")
    for env in envs:
        print(f"{env.name:<{width}}  {env.asymmetry:<11}  {env.family:<12}  {', '.join(env.parameter_space)}")
    print(f"\n{len(envs)} environments. `envfoundry show NAME` describes one.")
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

    report = diagnose()
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return 0 if report["healthy"] else 1


# ----- train / warmup ---------------------------------------------------------------------------
def _train_api() -> Any:
    try:
        from envfoundry.train import run
    except ImportError as exc:
        raise UsageError(f"training needs the train extra (pip install -e '.[train]'): {exc}") from None
    return run


def _levels(text: str) -> list[float]:
    try:
        return [float(level) for level in text.split(",") if level.strip()]
    except ValueError:
        raise UsageError(f"--eval-levels takes comma-separated numbers in [0, 1], got {text!r}") from None


def _run_training(job: Any) -> dict[str, Any]:
    """Run ``job()`` with every expected failure as one line."""
    from envfoundry.sandbox import SandboxError, SandboxUnavailable

    try:
        return job()
    except (ValueError, OSError, ImportError) as exc:  # bad settings, a model that cannot load, a missing package
        raise UsageError(str(exc).strip().splitlines()[0]) from None
    except (SandboxError, SandboxUnavailable) as exc:
        raise UsageError(f"an environment in the pool cannot run in the sandbox: {exc}") from None


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
    eval_envs = [name.strip() for name in args.eval_envs.split(",") if name.strip()] if args.eval_envs else None

    def job() -> dict[str, Any]:
        config = run.TrainConfig(model=args.model, envs=args.envs, controller=args.controller,
                                 active_size=args.active_size, diversity=args.diversity, steps=args.steps,
                                 out=args.out, group_size=args.group_size, groups_per_step=args.groups,
                                 learning_rate=args.learning_rate, max_completion_length=args.max_completion_length,
                                 format_weight=args.format_reward, eval_seeds=args.eval_seeds,
                                 eval_levels=_levels(args.eval_levels), eval_envs=eval_envs,
                                 report_to=args.report_to, seed=args.seed, save_steps=args.save_steps,
                                 resume=args.resume, warmup_steps=args.warmup_steps,
                                 warmup_learning_rate=args.warmup_learning_rate,
                                 warmup_max_level=args.warmup_max_level)  # fmt: skip
        return run.train(config)

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
        config = WarmupConfig(steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                              max_level=args.max_level, seed=args.seed)  # fmt: skip
        return run.warm_up(model=args.model, envs=args.envs, out=args.out, config=config, eval_seeds=args.eval_seeds,
                           eval_levels=_levels(args.eval_levels), max_new_tokens=args.max_completion_length)  # fmt: skip

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

    from envfoundry.cli import synth

    synth.add_commands(sub)

    p = sub.add_parser("train", help="GRPO training with TRL on a curriculum over environments")
    p.add_argument("--model", default="embedded",
                   help="'embedded' (SmolLM2-135M), a .gguf file, a checkpoint directory (a warm-up's) or a Hugging "
                        "Face id")  # fmt: skip
    p.add_argument("--envs", default="seeds", metavar="SPEC",
                   help="the pool, comma-separated: seeds, archive, archive:DIR, reasoning-gym (or rg), rg:NAME, "
                        "environment names, files (default: seeds)")  # fmt: skip
    p.add_argument("--controller", default="scaler", choices=["scaler", "rlve", "fixed"])
    p.add_argument("--active-size", type=int, default=64, help="environments active at once (default 64)")
    p.add_argument("--diversity", default="auto", choices=["auto", "embeddings", "traits"],
                   help="how entrants to the active set are chosen (auto: embeddings when installed and needed)")  # fmt: skip
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--out", default="runs/grpo", metavar="DIR")
    p.add_argument("--group-size", type=int, default=4, help="completions per prompt (a GRPO group)")
    p.add_argument("--groups", type=int, default=2, help="groups per step")
    p.add_argument("--learning-rate", type=float, default=1e-5)
    p.add_argument("--max-completion-length", type=int, default=64)
    p.add_argument("--format-reward", type=float, default=0.0, help="extra reward for a well-formed answer block")
    p.add_argument("--eval-seeds", type=int, default=8, help="held-out instances per environment (0: no eval)")
    p.add_argument("--eval-levels", default="0.25", help="comma-separated levels to evaluate at (default 0.25)")
    p.add_argument("--eval-envs", default=None,
                   help="comma-separated environments to evaluate (default: the active set at the start); ones "
                        "outside the pool are never trained on and show transfer")  # fmt: skip
    p.add_argument("--report-to", default="none", help="none, tensorboard or wandb")
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps (default: at the end)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup-steps", type=int, default=0,
                   help="format warm-up (supervised, on the environments' references) before GRPO: steps of 8 "
                        "examples (default 0: none); saved to OUT/warmup")  # fmt: skip
    p.add_argument("--warmup-learning-rate", type=float, default=WarmupConfig.learning_rate)
    p.add_argument("--warmup-max-level", type=float, default=WarmupConfig.max_level,
                   help="warm-up instances come from levels in [0, this]")  # fmt: skip
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("warmup", help="format warm-up: supervised fine-tuning on the environments' own references")
    p.add_argument("--model", default="embedded", help="'embedded' (SmolLM2-135M), a .gguf file, a path or a Hugging Face id")
    p.add_argument("--envs", default="seeds", metavar="SPEC", help="the pool, as for train (default: seeds)")
    p.add_argument("--out", default="runs/warmup", metavar="DIR", help="where the checkpoint goes (train --model DIR)")
    p.add_argument("--steps", type=int, default=WarmupConfig.steps)
    p.add_argument("--batch-size", type=int, default=WarmupConfig.batch_size)
    p.add_argument("--learning-rate", type=float, default=WarmupConfig.learning_rate)
    p.add_argument("--max-level", type=float, default=WarmupConfig.max_level,
                   help="instances come from levels in [0, this]")  # fmt: skip
    p.add_argument("--eval-seeds", type=int, default=8, help="held-out instances per environment (0: no eval)")
    p.add_argument("--eval-levels", default="0.25", help="comma-separated levels to evaluate at (default 0.25)")
    p.add_argument("--max-completion-length", type=int, default=64, help="tokens per held-out answer")
    p.add_argument("--seed", type=int, default=0)
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
        return args.func(args)
    except UsageError as exc:
        print(f"envfoundry: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `envfoundry sample ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
