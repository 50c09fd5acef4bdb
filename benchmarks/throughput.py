"""Sample + score throughput of envfoundry against reasoning-gym, pair by pair, in one run.

For every seed environment with a counterpart in reasoning-gym, both libraries generate
instances at comparable difficulty (the settings are side by side below) and score a correct
answer for each one; we report instances per second for each and the ratio. Each figure is the
best of ``--repeats`` timed passes on one core.

    python benchmarks/throughput.py [--n 300] [--repeats 3] [--out benchmarks/results/throughput.json]

Goal (issue: the seed library): at least 1x reasoning-gym on every pair.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

import envfoundry
from results_json import write_results


@dataclass
class Pair:
    ours: str
    ours_params: dict[str, Any]
    theirs: str
    theirs_config: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    label: str = ""  # tells apart rows of the same two environments in the printed table


PAIRS = [
    Pair(
        "shortest_path",
        {"nodes": 25, "extra_edges": 0.3, "max_weight": 9},
        "shortest_path",
        {},
        "matched in nodes and route length, not in task: theirs a 5-8 x 5-8 grid, 40% blocked (26 open "
        "cells, about 26 edges), BFS that stops at the goal, 38% of items infeasible (answer 'infeasible'), "
        "feasible routes 4.2 moves; ours a connected 25-node weighted graph (32 edges), full Dijkstra "
        "(the target is drawn from the farthest third), routes 4.6 edges",
        "25 nodes",
    ),
    Pair(
        "grid_maze",
        {"width": 7, "height": 7, "loops": 0.12, "goal_distance": 0.3},
        "shortest_path",
        {},
        "the like-for-like task at their default size, not matched: a move string through a 5-8 x 5-8 grid "
        "(42 cells, 26 open, 38% infeasible, 4.2 moves) / our 7x7 maze (49 cells, 31 open, 8.8 moves)",
        "7x7 / 5-8",
    ),
    Pair(
        "grid_maze",
        {"width": 7, "height": 7, "loops": 0.12, "goal_distance": 0.3},
        "shortest_path",
        {"min_rows": 7, "max_rows": 7, "min_cols": 7, "max_cols": 7},
        "matched: the same 7x7 grid and about the same open cells (theirs 30, ours 31); theirs 39% "
        "infeasible and 4.9-move routes (blocked at random), ours always a route, 8.8 moves (a maze)",
        "7x7 / 7x7",
    ),
    Pair(
        "grid_maze",
        {"width": 25, "height": 25, "loops": 0.12, "goal_distance": 0.3},
        "shortest_path",
        {"min_rows": 25, "max_rows": 25, "min_cols": 25, "max_cols": 25},
        "matched: the same 25x25 grid, our largest (open cells: theirs 375, ours 340); theirs 59% "
        "infeasible and 21-move routes, ours 36 moves",
        "25x25 / 25x25",
    ),
    Pair(
        "graph_coloring",
        {"vertices": 10, "degree": 2.5, "colors": 3},
        "graph_color",
        {},
        "10 vertices, 3 colours; theirs about 4.5 edges, ours 12.5 (our easiest setting)",
    ),
    Pair(
        "graph_coloring",
        {"vertices": 25, "degree": 3.5, "colors": 3},
        "graph_color",
        {"min_num_vertices": 25, "max_num_vertices": 25, "edge_probability": 3.5 / 24},
        "25 vertices, average degree 3.5, 3 colours",
    ),
    Pair("sudoku", {"size": 9, "blanks": 0.49}, "sudoku", {}, "9x9, theirs 30-50 blanks, ours 40"),
    Pair("sudoku", {"size": 4, "blanks": 0.62}, "mini_sudoku", {}, "4x4, theirs 8-12 blanks, ours 10"),
    Pair(
        "countdown",
        {"n_numbers": 5, "n_used": 5, "max_value": 100, "operators": "+-*/"},
        "countdown",
        {},
        "theirs: 4-6 numbers in 1-100, target 100-999; ours: 5 numbers up to 100, all used in the plant",
    ),
    Pair(
        "countdown",
        {"n_numbers": 4, "n_used": 4, "max_value": 10, "operators": "+-*/"},
        "puzzle24",
        {},
        "4 numbers in 1-10; theirs always target 24",
    ),
    Pair(
        "grid_maze",
        {"width": 8, "height": 8, "loops": 0.05, "goal_distance": 0.5},
        "maze",
        {},
        "theirs: 5-10 grid, distance 5-10, answer a step count; ours: 8x8, answer a move string",
    ),
    Pair(
        "course_schedule",
        {"n_courses": 8, "prereqs_per_course": 1.5, "chain": 0.75, "listing": "pairs"},
        "course_schedule",
        {},
        "theirs: 5-10 courses, answer yes/no; ours: 8 courses, answer an order",
    ),
    Pair(
        "expression_eval",
        {"n_operands": 4, "max_depth": 2, "max_operand": 999, "operators": "+-*/neg"},
        "basic_arithmetic",
        {},
        "theirs: 2-6 terms of 1-4 digits, + - * /, brackets, negation; ours: 4 operands up to 999",
    ),
]


def time_ours(name: str, params: dict[str, Any], n: int) -> float:
    """Seconds spent in ``sample`` and ``score`` for n instances (a correct answer each); preparing
    the response is not counted, as for reasoning-gym."""
    env = envfoundry.make(name)
    spent = 0.0
    for seed in range(n):
        start = time.perf_counter()
        instance = env.sample(seed, params=params)
        spent += time.perf_counter() - start
        response = envfoundry.core.wrap_answer(instance.reference)
        start = time.perf_counter()
        verdict = env.score(instance, response)
        spent += time.perf_counter() - start
        if not verdict.correct:
            raise RuntimeError(f"{name}: reference of seed {seed} scored {verdict.reward}")
    return spent


def _their_correct_answer(entry: dict[str, Any]) -> str:
    # graph_color leaves "answer" empty and keeps a solution in its metadata.
    if entry["answer"] is None and "possible_answer" in entry["metadata"]:
        return json.dumps(entry["metadata"]["possible_answer"])
    return entry["answer"]


def time_theirs(name: str, config: dict[str, Any], n: int) -> float:
    """Seconds spent in item generation and ``score_answer`` for n items (a correct answer each);
    preparing the answer string is not counted."""
    import reasoning_gym

    dataset = reasoning_gym.create_dataset(name, seed=0, size=n, **config)
    spent = 0.0
    for index in range(n):
        start = time.perf_counter()
        entry = dataset[index]
        spent += time.perf_counter() - start
        answer = _their_correct_answer(entry)
        start = time.perf_counter()
        reward = dataset.score_answer(answer, entry)
        spent += time.perf_counter() - start
        if reward < 1.0:
            raise RuntimeError(f"reasoning-gym {name}: its own answer for item {index} scored {reward}")
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="instances per timed pass")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best is kept")
    parser.add_argument("--out", default="benchmarks/results/throughput.json", help="JSON results file")
    args = parser.parse_args(argv)
    try:
        import reasoning_gym  # noqa: F401
    except ImportError:
        print("benchmarks/throughput.py: reasoning-gym is not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 2

    rows = []
    for pair in tqdm(PAIRS, desc="pairs", file=sys.stderr):
        ours = min(time_ours(pair.ours, pair.ours_params, args.n) for _ in range(args.repeats))
        theirs = min(time_theirs(pair.theirs, pair.theirs_config, args.n) for _ in range(args.repeats))
        rows.append(
            {
                "envfoundry": pair.ours,
                "envfoundry_params": pair.ours_params,
                "reasoning_gym": pair.theirs,
                "reasoning_gym_config": pair.theirs_config,
                "note": pair.note,
                "label": pair.label,
                "envfoundry_per_s": args.n / ours,
                "reasoning_gym_per_s": args.n / theirs,
                "ratio": theirs / ours,
            }
        )

    print(f"\n{'envfoundry':<18} {'reasoning-gym':<17} {'':<14} {'ours/s':>9} {'theirs/s':>9} {'ratio':>7}")
    for pair, row in zip(PAIRS, rows, strict=True):
        print(
            f"{row['envfoundry']:<18} {row['reasoning_gym']:<17} {pair.label:<14} {row['envfoundry_per_s']:>9.0f} "
            f"{row['reasoning_gym_per_s']:>9.0f} {row['ratio']:>6.2f}x"
        )
    worst = min(row["ratio"] for row in rows)
    print(f"\nslowest ratio {worst:.2f}x (goal: >= 1x on every pair); sample + score of a correct answer, one core")
    write_results(args.out, "throughput", {"instances_per_pass": args.n, "repeats": args.repeats, "pairs": rows,
                                           "min_ratio": worst})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
