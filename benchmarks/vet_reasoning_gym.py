"""Which reasoning-gym datasets envfoundry can use: every adaptable dataset vetted, one verdict each.

Each dataset is vetted in its own interpreter (``envfoundry.checks.reasoning_gym.vet``): the adapter's own
needs, envfoundry's check battery (16 seeds x 5 levels) and a fresh-process comparison. Prints a
table (pass, or the first failing check and why) and the failures by kind, and writes the verdicts.
The comment above the adapter's ``DEFAULT_DATASETS`` summarises this table over every dataset.

    python benchmarks/vet_reasoning_gym.py [--datasets chain_sum,gcd,dice] [--jobs 2]
                                           [--out benchmarks/results/vet_reasoning_gym.json]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from envfoundry.adapters.reasoning_gym import canonical_dataset, reasoning_gym_version
from envfoundry.checks.reasoning_gym import VET_TIMEOUT_S, failure_counts, vet
from results_json import write_results


def print_table(verdicts: Mapping[str, str | None]) -> None:
    width = max((len(name) for name in verdicts), default=7)
    for name, reason in verdicts.items():
        print(f"{name:<{width}}  {'pass' if reason is None else 'FAIL'}  {reason or ''}"[:240])
    passed = sum(reason is None for reason in verdicts.values())
    print(f"\n{len(verdicts)} vetted, {passed} pass")
    for kind, count in failure_counts(verdicts).items():
        print(f"  {count:>3}  {kind}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="", help="comma-separated datasets to vet (default: every adaptable one)")
    parser.add_argument("--jobs", type=int, default=None, help="datasets vetted at once (default: half the CPUs)")
    parser.add_argument("--timeout", type=float, default=VET_TIMEOUT_S, help="seconds allowed per dataset")
    parser.add_argument("--out", default="benchmarks/results/vet_reasoning_gym.json")
    args = parser.parse_args(argv)
    try:
        names = [canonical_dataset(name.strip()) for name in args.datasets.split(",") if name.strip()] or None
        version = reasoning_gym_version()
    except (ImportError, ValueError) as exc:  # reasoning-gym missing, or a dataset it does not have
        print(f"error: {exc}", file=sys.stderr)
        return 2

    verdicts = vet(names, jobs=args.jobs, timeout_s=args.timeout)
    print_table(verdicts)
    write_results(args.out, "vet_reasoning_gym", {
        "reasoning_gym_version": version,
        "timeout_s": args.timeout,
        "vetted": len(verdicts),
        "passed": sum(reason is None for reason in verdicts.values()),
        "failures": failure_counts(verdicts),
        "verdicts": verdicts,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
