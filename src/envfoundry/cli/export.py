"""``envfoundry export verl`` (a pool as verl's dataset and reward function) and ``envfoundry
score-batch`` (many exported instances and responses, scored on an executor)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from envfoundry.cli.errors import UsageError, first_line
from envfoundry.cli.executor import add_executor_options, executor_from
from envfoundry.core.files import write_atomic


def _levels(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes comma-separated levels in [0, 1], got {text!r}") from None


def cmd_export(args: argparse.Namespace) -> int:
    from envfoundry.errors import InvalidInputError
    from envfoundry.export.verl import export_verl
    from envfoundry.sandbox import SandboxError, SandboxUnavailable

    try:
        manifest = export_verl(args.envs, args.out, n=args.n, levels=args.levels, seed=args.seed, val_n=args.val_n,
                               system=args.system, sandbox_workers=args.sandbox_workers)  # fmt: skip
    except (InvalidInputError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    except (SandboxError, SandboxUnavailable) as exc:
        raise UsageError(f"an environment in the pool cannot run in the sandbox: {exc}") from None
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    width = max([len(entry["name"]) for entry in manifest["envs"]] + [11])
    print(f"{'environment':<{width}}  {'origin':<13}  {'train':>6}  {'test':>6}  made from")
    for entry in manifest["envs"]:
        print(f"{entry['name']:<{width}}  {entry['origin']:<13}  {entry['train']:>6}  {entry['test']:>6}  "
              f"{entry['made_from']}")  # fmt: skip
    out = Path(args.out).resolve()
    print(
        f"\n{manifest['rows']['train']} training and {manifest['rows']['test']} validation rows in {out}. Train with:"
    )
    val = out / "test.parquet" if manifest["val_n"] else out / "train.parquet"
    print(f"  python3 -m verl.trainer.main_ppo data.train_files={out / 'train.parquet'} data.val_files={val} \\\n"
          f"    custom_reward_function.path={out / 'reward.py'} custom_reward_function.name=compute_score ...")  # fmt: skip
    return 0


def _read_pairs(path: str) -> tuple[list[Any], list[Any]]:
    from envfoundry.export.scoring import parse_instance

    try:
        lines = (sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    instances, responses = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "instance" not in record or "response" not in record:
                raise ValueError('each line must be an object with "instance" and "response"')
            instances.append(parse_instance(record["instance"]))
        except ValueError as exc:  # not JSON, or not an instance (json's errors are ValueErrors too)
            raise UsageError(f"'{path}' line {number}: {exc}") from None
        responses.append(record["response"])
    if not instances:
        raise UsageError(f"'{path}' holds no pairs")
    return instances, responses


def _sources(files: list[str]) -> dict[str, str]:
    """Environment files by the name each declares, read without running them (the static stage's parser)."""
    from envfoundry.core.registry import read_source
    from envfoundry.synth.stages.static import check_source

    sources = {}
    for file in files:
        try:
            passed, reason, _, name = check_source(read_source(file), Path(file).name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if not passed or not name:
            raise UsageError(f"'{file}' is not an environment file: {reason}")
        sources[name] = str(Path(file).resolve())
    return sources


def cmd_score_batch(args: argparse.Namespace) -> int:
    from envfoundry.errors import InvalidInputError
    from envfoundry.export.scoring import score_pairs
    from envfoundry.sandbox import SandboxError

    if args.chunk < 1:
        raise UsageError("--chunk must be at least 1")
    instances, responses = _read_pairs(args.pairs)
    sources = _sources(args.source or [])
    with executor_from(args) as executor:
        try:
            verdicts = score_pairs(instances, responses, executor=executor, sources=sources, chunk=args.chunk)
        except (InvalidInputError, ImportError) as exc:
            raise UsageError(first_line(exc)) from None
        except SandboxError as exc:
            raise UsageError(f"an environment cannot run in the sandbox: {exc}") from None
    by_env: dict[str, list[Any]] = defaultdict(list)
    for instance, verdict in zip(instances, verdicts, strict=True):
        by_env[instance.env].append(verdict)
    summary = {"pairs": len(verdicts), "executor": args.executor, "envs": {
        name: {"n": len(found), "mean_reward": sum(v.reward for v in found) / len(found),
               "correct": sum(v.correct for v in found) / len(found),
               "format_ok": sum(v.format_ok for v in found) / len(found)} for name, found in sorted(by_env.items())}}  # fmt: skip
    if args.out:
        out = Path(args.out)
        write_atomic(out, "".join(json.dumps({"index": index, "env": instance.env, "seed": instance.seed,
                                              **verdict.to_dict()}, sort_keys=True) + "\n"
                                  for index, (instance, verdict) in enumerate(zip(instances, verdicts, strict=True))))  # fmt: skip
        summary["out"] = str(out)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    width = max([len(name) for name in by_env] + [11])
    print(f"{'environment':<{width}}  {'pairs':>6}  {'reward':>6}  {'correct':>7}  {'format':>6}")
    for name, figures in summary["envs"].items():
        print(f"{name:<{width}}  {figures['n']:>6}  {figures['mean_reward']:>6.3f}  {figures['correct']:>7.0%}  "
              f"{figures['format_ok']:>6.0%}")  # fmt: skip
    if args.out:
        print(f"\n{len(verdicts)} verdicts in {args.out}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("export", help="write environments in another trainer's format (verl)")
    formats = p.add_subparsers(dest="format", required=True, metavar="FORMAT")
    v = formats.add_parser("verl", help="verl's RL dataset (Parquet) and the reward function verl loads by path")
    v.add_argument("--envs", required=True, metavar="SPEC",
                   help="the pool: seeds, archive[:DIR], reasoning-gym, rg:NAME, names or files, comma-separated")  # fmt: skip
    v.add_argument("--out", required=True, metavar="DIR", help="writes train.parquet, test.parquet, reward.py, envs/ "
                   "and manifest.json there")  # fmt: skip
    v.add_argument("--n", type=int, default=256, help="training instances per environment (default: 256)")
    v.add_argument("--val-n", type=int, default=0, metavar="N",
                   help="validation instances per environment, from the held-out seeds, in test.parquet (default: none)")  # fmt: skip
    v.add_argument("--levels", type=_levels, default=[0.0, 0.5, 1.0], metavar="L,L,...",
                   help="the levels the instances cycle through (default: 0,0.5,1)")  # fmt: skip
    v.add_argument("--seed", type=int, default=0, help="training seeds start at 1,000,000 + SEED (default: 0)")
    v.add_argument("--system", default=None, metavar="TEXT", help="a system message before every prompt")
    v.add_argument("--sandbox-workers", type=int, default=1, metavar="N",
                   help="sandbox processes per sandboxed environment in each verl reward worker (default: 1)")  # fmt: skip
    v.add_argument("--json", action="store_true", help="print the manifest as JSON")
    v.set_defaults(func=cmd_export)

    p = sub.add_parser("score-batch", help="score many (instance, response) pairs on an executor (local or Ray)")
    p.add_argument("pairs", metavar="PAIRS.jsonl",
                   help='one {"instance": ..., "response": "..."} per line (the instance as an object or its JSON '
                        "text, e.g. an export's ground_truth); - reads stdin")  # fmt: skip
    p.add_argument("--source", action="append", metavar="FILE",
                   help="an environment file the instances may name (repeatable); seeds, rg:NAME and archived "
                        "environments are found by name")  # fmt: skip
    p.add_argument("--out", default=None, metavar="FILE", help="write one verdict per line, in order, to FILE")
    p.add_argument("--chunk", type=int, default=256, metavar="N", help="pairs per task (default: 256)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_executor_options(p)
    p.set_defaults(func=cmd_score_batch)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry export` or `envfoundry score-batch`")
