"""Which reasoning-gym datasets envfoundry can use: every adaptable dataset vetted, one verdict each.

Each dataset is vetted in its own interpreter (``envfoundry.checks.reasoning_gym.vet``): the adapter's own
needs, envfoundry's check battery (16 seeds x 5 levels) and a fresh-process comparison. Prints a
table (pass, or the first failing check and why) and the failures by kind, and writes the verdicts.
The comment above the adapter's ``DEFAULT_DATASETS`` summarises this table over every dataset.

    python benchmarks/vet_reasoning_gym.py [--datasets chain_sum,gcd,dice] [--jobs 2]
                                           [--out benchmarks/results/vet_reasoning_gym.json]
                                           [--write-table]

``--calibrate`` first measures, for every dataset whose full range fails, the index range per
curriculum attribute that reasoning-gym accepts and samples within half the time budget
(``checks.reasoning_gym.calibrate_one``); the adapter builds those datasets' parameters from it.
``--write-table`` records the ranges and the verdicts (of the datasets vetted) in the adapter's
``reasoning_gym_vetting.json``, which ``envfoundry list --json`` reports per dataset. For every
dataset scored by envfoundry's own verifier (the adapter's ``VERIFIERS``) it prints where
reasoning-gym's scorer and ours disagree on a sample of answers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping

from envfoundry.adapters.reasoning_gym import (
    VERIFIERS,
    VETTING_FILE,
    canonical_dataset,
    reasoning_gym_version,
    record_vetting,
    vetting,
)
from envfoundry.checks.battery import LEVELS
from envfoundry.checks.reasoning_gym import (
    VET_SEEDS,
    VET_TIMEOUT_S,
    calibrate,
    failure_counts,
    scorer_disagreements,
    vet,
)
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
    parser.add_argument("--write-table", action="store_true", help=f"record the verdicts in {VETTING_FILE.name}")
    parser.add_argument("--calibrate", default="", help="comma-separated datasets to measure level ranges for first")
    args = parser.parse_args(argv)
    try:
        names = [canonical_dataset(name.strip()) for name in args.datasets.split(",") if name.strip()] or None
        to_calibrate = [canonical_dataset(name.strip()) for name in args.calibrate.split(",") if name.strip()]
        version = reasoning_gym_version()
    except (ImportError, ValueError) as exc:  # reasoning-gym missing, or a dataset it does not have
        print(f"error: {exc}", file=sys.stderr)
        return 2

    table = dict(vetting(), seeds=len(VET_SEEDS), levels=len(LEVELS))
    ranges = dict(table.get("ranges") or {})
    if to_calibrate:
        print(f"calibrating the level ranges of {len(to_calibrate)} datasets", file=sys.stderr)
        for name, found in calibrate(to_calibrate, jobs=args.jobs, timeout_s=args.timeout).items():
            ranges.pop(name, None)
            if found.get("changed"):
                ranges[name] = found["ranges"]
            print(f"  {name:<26} {found.get('ranges') if 'ranges' in found else found.get('error')}")
        table["ranges"] = ranges
        record_vetting(table)  # the vetting children build these datasets from the recorded ranges
    verdicts = vet(names, jobs=args.jobs, timeout_s=args.timeout)
    print_table(verdicts)
    disagreements = {}
    for name in sorted(set(VERIFIERS) & set(verdicts)):
        disagreements[name] = scorer_disagreements(name, seeds=range(8))
    if disagreements:
        print("\nours vs reasoning-gym's scorer on the same answers (full marks by both / only ours / only theirs):")
        for name, found in disagreements.items():
            example = (found["examples"]["theirs_only"] or [{}])[0]
            shown = f"  theirs only, e.g. {example['answer']!r} for {example['reference']!r}" if example else ""
            print(f"  {name:<26} {found['both']:>4} {found['ours_only']:>4} {found['theirs_only']:>4} "
                  f"of {found['tried']}{shown}"[:200])  # fmt: skip
    write_results(args.out, "vet_reasoning_gym", {
        "reasoning_gym_version": version,
        "timeout_s": args.timeout,
        "vetted": len(verdicts),
        "passed": sum(reason is None for reason in verdicts.values()),
        "failures": failure_counts(verdicts),
        "verdicts": verdicts,
        "ranges": ranges,
        "scorer_disagreements": disagreements,
    })  # fmt: skip
    if args.write_table:
        # With --datasets, those verdicts replace their old ones; the rest of the table stays.
        if names is not None and table.get("reasoning_gym_version") not in (None, version):
            print("error: the recorded table is for another reasoning-gym: vet every dataset", file=sys.stderr)
            return 2
        table.update(reasoning_gym_version=version, ranges=ranges, verdicts={**table.get("verdicts", {}), **verdicts})
        record_vetting(table)
        print(f"recorded in {VETTING_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
