"""Does GRPO teach the embedded model anything after the format warm-up, and which controller keeps
its groups informative? One warm-up, then the same GRPO budget under fixed difficulty, SCALER and
RLVE, each from the same warmed-up checkpoint; held-out pass rates on the trained environments and
on environments never trained on (neither warmed up nor GRPO'd: transfer, or forgetting).

    python benchmarks/learning.py [--model embedded] [--warmup-steps 24] [--steps 30] [--eval-seeds 48]
                                  [--envs A,B] [--untrained C,D] [--out benchmarks/results/learning.json]

Goals (issue 11): GRPO adds >= +5 points over the warm-up on trained environments; SCALER's
dead-group share <= 1/3 of fixed difficulty's; no loss on untrained environments. Whatever
happens is printed and written, including a miss.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from envfoundry.train.run import train, warm_up
from envfoundry.train.warmup import WarmupConfig
from results_json import write_results

# The main job's environments (Makefile TRAIN_ENVS); the untrained ones share their kind of answer.
ENVS = "edit_distance,planted_subset_sum,longest_increasing_subsequence,rg:basic_arithmetic"
UNTRAINED = "expression_eval,rg:chain_sum"
ARMS = ("fixed", "scaler", "rlve")


def mean_rate(rates: dict[str, dict[str, float]], names: list[str]) -> float | None:
    values = [rate for name in names for rate in rates.get(name, {}).values()]
    return statistics.fmean(values) if values else None


def pool_names(spec: str) -> list[str]:
    return [name for name in spec.split(",") if name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded",
                        help="base model: 'embedded', a Hugging Face id, a local checkpoint or a .gguf file")  # fmt: skip
    parser.add_argument("--envs", default=ENVS, help="trained environments (warm-up and GRPO)")
    parser.add_argument("--untrained", default=UNTRAINED, help="evaluated only")
    parser.add_argument("--warmup-steps", type=int, default=24)
    parser.add_argument("--warmup-learning-rate", type=float, default=WarmupConfig.learning_rate)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--max-completion-length", type=int, default=48)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--format-reward", type=float, default=0.1)
    parser.add_argument("--eval-seeds", type=int, default=48)
    parser.add_argument("--eval-levels", default="0")
    parser.add_argument("--runs", default="runs/bench_learning", help="where checkpoints and logs go")
    parser.add_argument("--out", default="benchmarks/results/learning.json")
    args = parser.parse_args(argv)
    levels = [float(level) for level in args.eval_levels.split(",")]
    trained, untrained = pool_names(args.envs), pool_names(args.untrained)
    every = ",".join(filter(None, [args.envs, args.untrained]))

    # The warm-up sees only the trained environments (none of their held-out prompts); every arm
    # evaluates its checkpoint on all of them before GRPO.
    warm_dir = f"{args.runs}/warmup"
    warm = warm_up(model=args.model, envs=args.envs, out=warm_dir, eval_seeds=args.eval_seeds, eval_levels=levels,
                   max_new_tokens=args.max_completion_length,
                   config=WarmupConfig(steps=args.warmup_steps, learning_rate=args.warmup_learning_rate))  # fmt: skip
    runs = {}
    for arm in ARMS:
        runs[arm] = train(
            model=warm_dir, envs=args.envs, eval_envs=every.split(","), controller=arm, steps=args.steps,
            out=f"{args.runs}/{arm}", group_size=args.group_size, groups_per_step=args.groups,
            max_completion_length=args.max_completion_length, learning_rate=args.learning_rate,
            format_weight=args.format_reward, eval_seeds=args.eval_seeds, eval_levels=levels,
        )  # fmt: skip
    # Every arm starts from the same checkpoint and evaluates it greedily: its "before" is the warm-up's.
    warmed = runs[ARMS[0]]["eval"]["before"]
    # The base model on the trained environments was measured by the warm-up; only the others remain.
    base = {**warm["eval"]["before"], **(_base_rates(args.untrained, args, levels) if untrained else {})}

    rollouts = args.steps * args.groups * args.group_size
    print(f"\n{args.warmup_steps} warm-up steps ({warm['seconds']:.0f} s), then {rollouts} GRPO rollouts per arm; "
          f"held-out pass rate over {args.eval_seeds} seeds x levels {args.eval_levels}")  # fmt: skip
    print(f"{'':<10}{'seconds':>9}{'dead groups':>13}{'all failed':>12}{'trained':>10}{'gain':>8}{'untrained':>11}"
          f"{'gain':>8}")
    rows = {}
    for name, rates, seconds, dead, unsolved in [("base", base, None, None, None),
                                                 ("warm-up", warmed, warm["seconds"], None, None)] + [
        (arm, run["eval"]["after"], run["seconds"], run["dead_group_share"], run["dead_unsolved_share"])
        for arm, run in runs.items()
    ]:  # fmt: skip
        row = {"seconds": seconds, "dead_group_share": dead, "dead_unsolved_share": unsolved,
               "trained": mean_rate(rates, trained), "untrained": mean_rate(rates, untrained)}  # fmt: skip
        row["trained_gain"] = row["trained"] - mean_rate(warmed, trained)
        row["untrained_gain"] = (row["untrained"] - mean_rate(warmed, untrained)) if untrained else None
        rows[name] = row
        cells = [f"{seconds:>9.0f}" if seconds is not None else f"{'':>9}",
                 f"{dead:>13.0%}" if dead is not None else f"{'':>13}",
                 f"{unsolved:>12.0%}" if unsolved is not None else f"{'':>12}", f"{row['trained']:>10.1%}",
                 f"{row['trained_gain'] * 100:>+7.1f}p",
                 f"{row['untrained']:>11.1%}" if untrained else f"{'':>11}",
                 f"{row['untrained_gain'] * 100:>+7.1f}p" if untrained else ""]  # fmt: skip
        print(f"{name:<10}" + "".join(cells))
    fixed, scaler = runs["fixed"]["dead_group_share"], runs["scaler"]["dead_group_share"]
    ratio = scaler / fixed if fixed else None
    print("dead-group share, SCALER / fixed: " + (f"{ratio:.2f}x" if ratio is not None else "fixed had none"))
    print("per environment and level (base / warm-up / " + " / ".join(ARMS) + "):")
    for env_name in trained + untrained:
        for level in warmed.get(env_name, {}):
            cells = " / ".join(f"{rates[env_name][level]:.0%}" for rates in
                               [base, warmed] + [runs[arm]["eval"]["after"] for arm in ARMS])  # fmt: skip
            print(f"  {env_name:<34}{level:>5}  {cells}{'' if env_name in trained else '  (untrained)'}")
    write_results(args.out, "learning", {"args": vars(args), "rollouts": rollouts, "warmup": warm, "base": base,
                                         "rows": rows, "dead_share_ratio": ratio, "runs": runs})  # fmt: skip
    return 0


def _base_rates(spec: str, args: argparse.Namespace, levels: list[float]) -> dict[str, dict[str, float]]:
    """The base model's held-out rates before any training, on the same instances."""
    from envfoundry.curriculum import build_pool
    from envfoundry.train.run import evaluate, load_model

    model, tokenizer = load_model(args.model)
    with build_pool(spec) as pool:
        return evaluate(model, tokenizer, pool.envs, range(args.eval_seeds), levels, args.max_completion_length)


if __name__ == "__main__":
    sys.exit(main())
