"""GRPO on a laptop CPU: the embedded SmolLM2-135M, three easy seed environments, the same rollout
budget under fixed difficulty and under SCALER; dead-group share and held-out pass rate before and
after, from one run each. Whatever happens is reported, including no gain.

    python benchmarks/grpo_cpu.py [--steps 40] [--envs a,b,c] [--out benchmarks/results/grpo_cpu.json]

``--envs`` takes any pool spec (e.g. ``rg:chain_sum,rg:basic_arithmetic,rg:leg_counting``, whose
lowest levels are one-step sums a 135M model can sometimes answer).

Each controller's run writes its checkpoints and logs under ``runs/bench_grpo_<controller>``.
"""

from __future__ import annotations

import argparse
import sys

from envfoundry.train.run import train
from results_json import write_results

ENVS = ["expression_eval", "edit_distance", "planted_subset_sum"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--envs", default=",".join(ENVS), help="the pool (default: three easy seeds)")
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--max-completion-length", type=int, default=48)
    parser.add_argument("--eval-seeds", type=int, default=8)
    parser.add_argument("--eval-levels", default="0,0.25", help="comma-separated held-out levels")
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--format-reward", type=float, default=0.1)
    parser.add_argument("--out", default="benchmarks/results/grpo_cpu.json")
    args = parser.parse_args(argv)
    levels = [float(x) for x in args.eval_levels.split(",")]
    runs = {}
    for controller in ("fixed", "scaler"):
        runs[controller] = train(
            model="embedded", envs=args.envs, controller=controller, steps=args.steps, out=f"runs/bench_grpo_{controller}",
            group_size=args.group_size, groups_per_step=args.groups, max_completion_length=args.max_completion_length,
            learning_rate=args.learning_rate, format_weight=args.format_reward, eval_seeds=args.eval_seeds,
            eval_levels=levels,
        )  # fmt: skip
    rollouts = args.steps * args.groups * args.group_size
    print(f"\n{rollouts} rollouts per controller; held-out pass rate over {args.eval_seeds} seeds per environment "
          f"and level")  # fmt: skip
    print(f"{'controller':<10}{'seconds':>9}{'dead groups':>13}  pass rate before -> after, per level")
    for controller, run in runs.items():
        before, after = run["eval"]["before"], run["eval"]["after"]
        rates = "; ".join(f"{e} " + " ".join(f"{lv}:{before[e][lv]:.0%}->{after[e][lv]:.0%}" for lv in before[e])
                          for e in before)  # fmt: skip
        print(f"{controller:<10}{run['seconds']:>9.0f}{run['dead_group_share']:>13.0%}  {rates}")
    fixed, scaler = runs["fixed"]["dead_group_share"], runs["scaler"]["dead_group_share"]
    ratio = scaler / fixed if fixed else None
    print(f"dead-group share, scaler / fixed: {ratio:.2f}x" if ratio is not None else "fixed had no dead groups")
    write_results(args.out, "grpo_cpu", {"args": vars(args), "envs": args.envs, "rollouts": rollouts, "runs": runs,
                                         "dead_share_ratio": ratio})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
