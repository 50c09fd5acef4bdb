"""The self-evolving loop on the embedded model: S stages of synthesis, GRPO and held-out
evaluation, with the policy itself as the generator (trained with GRPO on EvoEnv's reward) unless
``--generator`` names another model. Prints per stage: proposals, admissions, the generator's mean
reward, held-out pass rate, dead-group share and seconds per phase. Whatever happens is reported,
including a generator that admitted nothing.

    python benchmarks/evolve.py [--stages 2] [--generator policy|URL --generator-model M]
                                [--out benchmarks/results/evolve.json]

The run itself (checkpoints, archive, evaluation files) goes to ``runs/bench_evolve``;
``envfoundry report runs/bench_evolve`` draws it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

from envfoundry.evolve import EvolveConfig, evolve
from results_json import write_results

# Small enough for about five minutes a stage on 2 CPU cores.
TINY = {"proposals": 4, "generator_group_size": 2, "generator_max_tokens": 96, "example_chars": 4200, "steps": 4,
        "group_size": 4, "groups_per_step": 2, "max_completion_length": 32, "eval_seeds": 8, "eval_levels": (0.0,),
        "active_size": 4, "envs": "edit_distance,planted_subset_sum,longest_increasing_subsequence"}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--generator", default="policy", help="policy (trained as the generator), a URL, ...")
    parser.add_argument("--generator-model", default=None, help="the model id at the generator's server")
    parser.add_argument("--run-dir", default="runs/bench_evolve")
    parser.add_argument("--out", default="benchmarks/results/evolve.json")
    args = parser.parse_args(argv)
    shutil.rmtree(args.run_dir, ignore_errors=True)
    config = EvolveConfig(**TINY, stages=args.stages, generator=args.generator, generator_model=args.generator_model,
                          out=args.run_dir)  # fmt: skip
    started = time.perf_counter()
    state = evolve(config)
    seconds = time.perf_counter() - started
    print(f"\nheld-out pass rate before stage 1: {state['pass_rate_before']:.1%} "
          f"({config.eval_seeds} seeds per environment at level {config.eval_levels[0]:g})")  # fmt: skip
    print(f"{'stage':>5} {'proposed':>8} {'admitted':>8} {'gen reward':>10} {'held-out':>8} {'dead groups':>11} "
          f"{'synth s':>8} {'train s':>8} {'eval s':>7}")  # fmt: skip
    rows = []
    for entry in state["stages"]:
        generator, times = entry["generator"], entry["seconds"]
        row = {"stage": entry["stage"], "proposals": generator["proposals"], "admitted": generator["admitted"],
               "generator_mean_reward": generator["mean_reward"], "held_out_pass_rate": entry["pass_rate"],
               "dead_group_share": entry.get("dead_group_share"), "seconds": times,
               "outcomes": entry["synthesis"]["outcomes"]}  # fmt: skip
        rows.append(row)
        dead = row["dead_group_share"]
        print(f"{row['stage']:>5} {row['proposals']:>8} {row['admitted']:>8} {row['generator_mean_reward']:>10.3f} "
              f"{row['held_out_pass_rate']:>8.1%} {'-' if dead is None else f'{dead:.0%}':>11} "
              f"{times['synthesis']:>8.0f} {times['train']:>8.0f} {times['eval']:>7.0f}")  # fmt: skip
    print(f"{seconds:.0f} s in all; outcomes per stage: " + "; ".join(str(r["outcomes"]) for r in rows))
    write_results(args.out, "evolve", {"config": state["config"], "pass_rate_before": state["pass_rate_before"],
                                       "stages": rows, "seconds": round(seconds, 1)})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
