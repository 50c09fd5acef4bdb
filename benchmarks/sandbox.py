"""Sample + score throughput of the same environments in-process and through the sandbox pool.

For each environment and batch size, one pass samples a batch of instances and scores a correct
response for each; we report items per second in-process (one core, a plain loop) and through a
``SandboxedEnvironment`` (``sample_many`` + ``score_many`` over the worker pool), and the ratio.
Each figure is the best of ``--repeats`` passes over ``--items`` items. Cold start is the time to
construct a pool (every worker started under the isolation and the environment loaded).

    python benchmarks/sandbox.py [--items 2048] [--repeats 3] [--workers N] [--out benchmarks/results/sandbox.json]

Goal (issue: the sandbox): sandboxed >= 0.5x in-process at batches of 256; cold start under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial

from tqdm import tqdm

import envfoundry
from envfoundry.core.answer import wrap_answer
from envfoundry.sandbox import SandboxedEnvironment, resolve_isolation
from results_json import write_results

ENVS = [
    ("shortest_path", 0.5),  # cheap to generate: the worst case for the sandbox's overhead
    ("knapsack", 0.5),
    ("sudoku", 0.5),
    ("mapf_frozenlake", 0.5),
]
BATCHES = (1, 16, 256)


def _in_process(env, seeds, level: float, batch: int) -> None:
    for start in range(0, len(seeds), batch):
        instances = [env.sample(seed, level=level) for seed in seeds[start : start + batch]]
        for instance in instances:
            env.score(instance, wrap_answer(instance.reference))


def _sandboxed(env: SandboxedEnvironment, seeds, level: float, batch: int) -> None:
    for start in range(0, len(seeds), batch):
        instances = env.sample_many(seeds[start : start + batch], level=level)
        verdicts = env.score_many(instances, [wrap_answer(i.reference) for i in instances])
        if not all(v.correct for v in verdicts):
            raise SystemExit(f"{env.name}: a reference scored below 1 through the sandbox")


def _best_rate(run, items: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return items / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2048, help="items per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: cores, at most 4)")
    parser.add_argument("--out", default="benchmarks/results/sandbox.json")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    active = resolve_isolation()
    detect_s = time.perf_counter() - started
    print(f"isolation: {active.describe()} (detected in {detect_s:.2f} s, once per process)")

    cold = []
    for _ in range(5):
        env = SandboxedEnvironment(module="envfoundry.envs.shortest_path", workers=args.workers)
        cold.append(env.cold_start_s)
        env.close()
    cold_s = statistics.median(cold)
    print(f"cold start of a pool ({env.workers} workers): median {cold_s * 1000:.0f} ms of 5 "
          f"(min {min(cold) * 1000:.0f}, max {max(cold) * 1000:.0f})")  # fmt: skip

    rows = []
    seeds = list(range(args.items))
    progress = tqdm(total=len(ENVS) * len(BATCHES), desc="sandbox benchmark", unit="case", leave=False)
    for name, level in ENVS:
        local = envfoundry.make(name)
        with SandboxedEnvironment(module=local.__module__, workers=args.workers) as boxed:
            for batch in BATCHES:
                n = args.items if batch > 1 else min(args.items, 256)
                here = _best_rate(partial(_in_process, local, seeds[:n], level, batch), n, args.repeats)
                there = _best_rate(partial(_sandboxed, boxed, seeds[:n], level, batch), n, args.repeats)
                rows.append({
                    "env": name, "level": level, "batch": batch, "in_process_per_s": round(here, 1),
                    "sandboxed_per_s": round(there, 1), "ratio": round(there / here, 3),
                })  # fmt: skip
                progress.update()
            restarts = boxed.restarts
        if restarts:
            print(f"warning: {restarts} worker restarts during {name}", file=sys.stderr)
    progress.close()

    print(f"\n{'environment':<18}{'batch':>6}{'in-process/s':>14}{'sandboxed/s':>13}{'ratio':>8}")
    for row in rows:
        print(f"{row['env']:<18}{row['batch']:>6}{row['in_process_per_s']:>14.0f}"
              f"{row['sandboxed_per_s']:>13.0f}{row['ratio']:>7.2f}x")  # fmt: skip
    at_256 = [row["ratio"] for row in rows if row["batch"] == 256]
    worst = min(at_256)
    print(f"\nslowest ratio at batch 256: {worst:.2f}x (goal >= 0.5x); "
          f"cold start {cold_s * 1000:.0f} ms (goal < 1000 ms)")  # fmt: skip

    write_results(args.out, "sandbox", {
        "isolation": active.kind,
        "isolation_detail": active.detail,
        "workers": env.workers,
        "items_per_pass": args.items,
        "repeats": args.repeats,
        "cold_start_s": {"median": cold_s, "all": cold},
        "rows": rows,
        "goals": {"ratio_at_256": {"goal": 0.5, "measured": worst, "met": worst >= 0.5},
                  "cold_start_s": {"goal": 1.0, "measured": cold_s, "met": cold_s < 1.0}},
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
