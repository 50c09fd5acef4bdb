"""``envfoundry eval``: held-out pass rates of a model per environment and level (``envfoundry.evaluate``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from envfoundry.cli.errors import UsageError, as_usage_errors


def _levels(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--levels takes comma-separated numbers in [0, 1] (e.g. 0,0.5,1), got {text!r}") from None


def cmd_eval(args: argparse.Namespace) -> int:
    from envfoundry.evaluate import run_eval
    from envfoundry.llm import LLMError

    with as_usage_errors(ValueError, OSError, ImportError, LLMError):  # bad settings, a model or package that cannot load
        result = run_eval(args.llm, model_name=args.model, suite=args.suite, levels=_levels(args.levels),
                          seeds=args.seeds, max_tokens=args.max_tokens, batch_size=args.batch_size, out=args.out,
                          progress=not args.quiet)  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("\n".join(format_table(result)))
    if args.out:
        print(f"results in {args.out}")
    return 0


def format_table(result: dict[str, Any]) -> list[str]:
    """Pass rate (answer-block rate) per environment (rows) and level (columns), then the overall figures."""
    levels = [f"{level:g}" for level in result["levels"]]
    width = max([len(name) for name in result["results"]] + [11])
    seeds = result["seeds"]
    instances = "1 instance (seed 0)" if seeds == 1 else f"{seeds} instances (seeds 0-{seeds - 1})"
    lines = [f"{result['model']} ({result['backend']}) on {result['suite']}: held-out pass rate (answer-block "
             f"rate), {instances} per environment and level",
             f"  {'environment':<{width}}  " + "  ".join(f"{'level ' + level:>12}" for level in levels)]  # fmt: skip
    for name, by_level in result["results"].items():
        cells = [f"{by_level[level]['pass_rate']:>4.0%} ({by_level[level]['format_rate']:>4.0%})" for level in levels]
        errors = sum(cell["errors"] for cell in by_level.values())
        lines.append(f"  {name:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells)
                     + (f"  {errors} without a verdict" if errors else ""))  # fmt: skip
    lines.append(f"overall: {result['pass_rate']:.1%} passed, {result['format_rate']:.1%} with an answer block, "
                 f"mean reward {result['mean_reward']:.3f} over {result['n']} instances"
                 + (f"; {result['errors']} without a verdict (examples in --json)" if result["errors"] else "")
                 + f"; {result['seconds']:.1f} s")  # fmt: skip
    return lines


def add_commands(sub: Any) -> None:
    from envfoundry.evaluate.run import DEFAULT_BATCH_SIZE, DEFAULT_LEVELS, DEFAULT_MAX_TOKENS, DEFAULT_SEEDS
    from envfoundry.evaluate.suites import SUITES

    suites = "; ".join(f"{name}: {what}" for name, what in SUITES.items())
    p = sub.add_parser("eval", help="held-out pass rates of a model per environment and level",
                       description="Evaluate a model on held-out instances (seeds 0..N-1, never used in training) "
                                   "with training's prompt, greedy.")  # fmt: skip
    p.add_argument("--model", default=None, metavar="embedded|DIR|NAME",
                   help="'embedded' (SmolLM2-135M, the default) or a checkpoint directory (a training run's final/); "
                        "with --llm, the model's id at the server")  # fmt: skip
    p.add_argument("--llm", default=None, metavar="URL",
                   help="an OpenAI-compatible server (http://host:port/v1) to evaluate instead of a local model "
                        "(or replay:FILE, fixed replies)")  # fmt: skip
    p.add_argument("--suite", default="seeds", metavar="SUITE",
                   help=f"what to evaluate on, comma-separated: {suites}; or any pool spec (names, rg:NAME, "
                        "archive[:DIR], files) (default: seeds)")  # fmt: skip
    p.add_argument("--levels", default=",".join(f"{level:g}" for level in DEFAULT_LEVELS), metavar="L1,L2",
                   help="difficulty levels in [0, 1], comma-separated (default: %(default)s)")  # fmt: skip
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, metavar="N",
                   help="held-out instances per environment and level: seeds 0..N-1 (default: %(default)s)")  # fmt: skip
    p.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS, metavar="N",
                   help="tokens per reply, as in training (default: %(default)s)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                   help="replies generated together: a batch for a local model, requests in flight for a server "
                        "(default: %(default)s)")  # fmt: skip
    p.add_argument("--out", default=None, metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry eval`")
