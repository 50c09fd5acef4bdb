"""The short tour behind ``envfoundry tour``: every environment sampled and scored at three levels.

For each environment and level it samples instances, scores the reference (must be 1.0) and
another instance's reference (should not be), and times sample+score. It exits non-zero if any
reference fails, so the tour doubles as a health check of an installation.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from envfoundry.core import registered, wrap_answer
from envfoundry.resolve import make

LEVELS = (0.0, 0.5, 1.0)


def tour_rows(seeds: int) -> list[dict[str, Any]]:
    """One row per (environment, level) with the figures the tour prints."""
    names = registered()
    rows = []
    with tqdm(total=len(names) * len(LEVELS), desc="tour", unit="env-level", file=sys.stderr) as bar:
        for name in names:
            env = make(name)
            for level in LEVELS:
                bar.set_postfix_str(f"{name} @ {level}")
                start = time.perf_counter()
                instances = [env.sample(seed, level=level) for seed in range(seeds)]
                verdicts = [env.score(i, wrap_answer(i.reference)) for i in instances]
                elapsed = time.perf_counter() - start
                others = [
                    env.score(i, wrap_answer(o.reference)).correct
                    for i, o in zip(instances, instances[1:] + instances[:1], strict=False)
                    if o.reference.strip() != i.reference.strip()
                ]
                rows.append(
                    {
                        "env": name,
                        "asymmetry": env.asymmetry,
                        "level": level,
                        "instances": seeds,
                        "reference_pass_rate": sum(v.correct for v in verdicts) / seeds,
                        "other_reference_accept_rate": sum(others) / len(others) if others else 0.0,
                        "mean_complexity": statistics.fmean(i.metadata["complexity"] for i in instances),
                        "mean_prompt_chars": statistics.fmean(len(i.prompt) for i in instances),
                        "instances_per_s": seeds / elapsed if elapsed > 0 else float("inf"),
                    }
                )
                bar.update()
    return rows


def run_tour(seeds: int = 20, out: str | None = None, as_json: bool = False) -> int:
    if seeds < 2:
        print("envfoundry: error: --seeds must be at least 2", file=sys.stderr)
        return 2
    names = registered()
    if not as_json:
        example_env = make("planted_subset_sum" if "planted_subset_sum" in names else names[0])
        example = example_env.sample(seed=0, level=0.0)
        verdict = example_env.score(example, f"Let me add them up. {wrap_answer(example.reference)}")
        print(f"{len(names)} environments: {', '.join(names)}\n")
        print(f"An instance of {example_env.name} at level 0 (seed 0):\n")
        print(example.prompt)
        print(f"\nScoring the reference answer: reward={verdict.reward:g} ({verdict.reason})\n")
    rows = tour_rows(seeds)
    failures = [r for r in rows if r["reference_pass_rate"] < 1.0]
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        header = f"{'environment':<34} {'level':>5} {'ref ok':>7} {'other ok':>8} {'complexity':>10} {'prompt':>7} {'inst/s':>9}"
        print(header)
        print("-" * len(header))
        for r in rows:
            print(
                f"{r['env']:<34} {r['level']:>5} {r['reference_pass_rate']:>7.0%} "
                f"{r['other_reference_accept_rate']:>8.0%} {r['mean_complexity']:>10.1f} "
                f"{r['mean_prompt_chars']:>7.0f} {r['instances_per_s']:>9.0f}"
            )
        print(
            "\nref ok: share of references that score 1.0 (must be 100%). other ok: share of other "
            "instances' references accepted (should be ~0%). inst/s: sample + score, one core."
        )
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(rows, indent=2))
        if not as_json:
            print(f"Results written to {out}")
    if failures:
        print(f"envfoundry: error: references failed in {len(failures)} environment-levels", file=sys.stderr)
        return 1
    return 0
