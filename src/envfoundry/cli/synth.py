"""``envfoundry check``, ``synthesize`` and ``archive``: validation, synthesis and the archive."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from envfoundry.cli.errors import UsageError
from envfoundry.cli.executor import add_executor_options, executor_from


def _archive(args: argparse.Namespace, create: bool = True) -> Any:
    from envfoundry.archive import Archive, archive_exists, default_archive_dir

    root = Path(args.archive) if args.archive else default_archive_dir()
    if not create and not archive_exists(root):
        return None
    try:
        return Archive(root)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _model(spec: str | None, model: str | None) -> Any:
    from envfoundry.llm import LLMError, make_chat_model

    try:
        return make_chat_model(spec, model)
    except (ValueError, LLMError) as exc:
        raise UsageError(str(exc)) from None


def _models(args: argparse.Namespace, default_embedded: bool) -> tuple[Any, Any]:
    spec = args.llm or ("embedded" if default_embedded else None)
    generator = _model(spec, args.model) if spec else None
    solver = generator
    if getattr(args, "solver_llm", None):
        solver = _model(args.solver_llm, args.solver_model)
    return generator, solver


def _read(path: str) -> str:
    from envfoundry.core.registry import read_source

    try:
        return read_source(path)
    except ValueError as exc:  # unreadable, or not UTF-8: one sentence naming the file
        raise UsageError(str(exc)) from None


def _print_stages(result: Any) -> None:
    for report in result.reports:
        mark = "skip" if report.skipped else ("ok" if report.passed else "FAIL")
        print(f"  [{mark:>4}] {report.name:<12} {report.reason}  ({report.seconds:.2f} s)")
    print("admitted" if result.admitted else f"rejected at {result.failed.name if result.failed else '?'}")


def _validate_files(args: argparse.Namespace, files: list[str], archive: Any, lineage: dict[str, Any]) -> list[Any]:
    """Every file's validation, as one batch: the sandbox stages on the executor ``--executor`` names."""
    from envfoundry.synth.stages.base import Candidate, Context
    from envfoundry.synth.synthesize import check_candidates, novelty_index

    sources = [_read(file) for file in files]
    generator, solver = _models(args, default_embedded=False)
    candidates = [Candidate(source, filename=Path(file).name, lineage=dict(lineage))
                  for file, source in zip(files, sources, strict=True)]  # fmt: skip
    with executor_from(args) as executor:
        context = Context(generator=generator, solver=solver, novelty_index=novelty_index(archive),
                          max_tokens=args.max_tokens, executor=executor)  # fmt: skip
        return list(check_candidates(candidates, context, archive if args.command == "archive" else None,
                                     progress=len(candidates) > 1))  # fmt: skip


def cmd_check(args: argparse.Namespace) -> int:
    archive = _archive(args, create=False) if args.archive else None
    results = _validate_files(args, args.files, archive, {"mode": "user", "parents": [], "generator": None})
    if args.json:
        shown = [result.to_dict() for result in results]
        print(json.dumps(shown[0] if len(shown) == 1 else shown, indent=2, default=str))
    else:
        for file, result in zip(args.files, results, strict=True):
            print(f"{file}:")
            _print_stages(result)
    return 0 if all(result.admitted for result in results) else 1


def cmd_synthesize(args: argparse.Namespace) -> int:
    from envfoundry.synth.synthesize import synthesize

    if args.rounds < 1 or args.candidates < 1 or args.examples < 1:
        raise UsageError("--rounds, --candidates and --examples must be at least 1")
    archive = _archive(args)
    generator, solver = _models(args, default_embedded=True)
    with executor_from(args) as executor:
        summary = synthesize(generator, archive, rounds=args.rounds, candidates=args.candidates, solver=solver,
                             seed=args.seed, repair=not args.no_repair, max_tokens=args.max_tokens,
                             examples=args.examples, example_chars=args.example_chars, executor=executor)  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print_funnel(summary["funnel"])
        print(f"archive: {archive.root}  (run {summary['run_id']})")
    return 0


def print_funnel(funnel: dict[str, Any]) -> None:
    print(f"\n{funnel['candidates']} candidates, {funnel['admitted']} admitted")
    for stage in dict.fromkeys([*funnel["passed"], *funnel["failed"]]):
        print(f"  {stage:<12} passed {funnel['passed'].get(stage, 0):>4}   failed {funnel['failed'].get(stage, 0):>4}")
        for reason, count in funnel["reasons"].get(stage, [])[:3]:
            print(f"      {count:>3} x {reason[:110]}")


def cmd_archive(args: argparse.Namespace) -> int:
    if args.action == "add":
        archive = _archive(args)
        [result] = _validate_files(args, [args.file], archive, {"mode": "user", "parents": [], "generator": None,
                                                                "file": str(Path(args.file).resolve())})  # fmt: skip
        _print_stages(result)
        if result.admitted:
            print(f"added '{result.candidate.name}' to {archive.root}")
        return 0 if result.admitted else 1
    archive = _archive(args, create=False)
    if archive is None:
        raise UsageError(f"no archive at '{args.archive or 'the default location'}' yet: "
                         "`envfoundry archive add FILE.py` or `envfoundry synthesize` creates one")  # fmt: skip
    if args.action == "list":
        rows = archive.candidates(admitted=False, limit=args.limit) if args.rejected else archive.environments()
        if args.json:
            print(json.dumps([vars(r) for r in rows], indent=2, default=str))
        elif args.rejected:
            for r in rows:
                print(f"{r.source_hash[:12]}  {r.env_name or '-':<24} {r.failed_stage or '-':<12} {r.reason[:80]}")
        else:
            for env in rows:
                level = (env.calibration or {}).get("target_level")
                print(f"{env.name:<28} {env.asymmetry:<11} {env.family or '-':<14} "
                      f"{'target level ' + str(level) if level is not None else ''}")  # fmt: skip
            print(f"\n{len(rows)} environments in {archive.root}")
        return 0
    if args.action == "show":
        env = archive.get(args.name)
        if env is None:
            raise UsageError(f"no environment named '{args.name}' in {archive.root}")
        if args.json:
            print(json.dumps(vars(env), indent=2, default=str))
        else:
            print(f"{env.name} ({env.asymmetry}, {env.family or 'no family'}) - source {env.source_hash[:12]}")
            print(env.description)
            print(f"lineage: {json.dumps(env.lineage)}")
            for report in env.reports:
                print(f"  {report['name']:<12} {'skip' if report.get('skipped') else 'ok'}  {report['reason']}")
            print(f"source: {env.path}")
        return 0
    if args.action == "export":
        try:
            written = archive.export(Path(args.dest))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(f"exported {len(written) - 1} environments and manifest.json to {args.dest}")
        return 0
    raise UsageError(f"unknown archive action {args.action!r}")


def _model_options(p: argparse.ArgumentParser, solver: bool = True) -> None:
    p.add_argument("--llm", default=None, metavar="URL|embedded",
                   help="an OpenAI-compatible endpoint (http://host:port/v1) or 'embedded' (SmolLM2-135M)")
    p.add_argument("--model", default=None, help="model name at the endpoint (required for a URL)")
    if solver:
        p.add_argument("--solver-llm", default=None, metavar="URL|embedded",
                       help="the calibration solver, if not the same model")
        p.add_argument("--solver-model", default=None)  # fmt: skip


def add_commands(sub: Any) -> None:
    """Register the commands on the main parser."""
    p = sub.add_parser("check", help="run the validation stages on environment files (several: as one batch)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--archive", default=None, metavar="DIR", help="also compare against this archive (novelty)")
    _model_options(p)
    p.add_argument("--max-tokens", type=int, default=384, help="tokens per review and per calibration answer")
    p.add_argument("--json", action="store_true",
                   help='print {"admitted": bool, "stages": [...]} (a list of them for several files)')
    add_executor_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("synthesize", help="let a model write new environments; archive what passes validation")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--candidates", type=int, default=4, help="candidates per round")
    p.add_argument("--archive", default=None, metavar="DIR")
    _model_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-tokens", type=int, default=1024, help="tokens per generated module")
    p.add_argument("--no-repair", action="store_true", help="do not give rejected candidates one repair attempt")
    p.add_argument("--examples", type=int, default=1, help="seed environments shown in each prompt")
    p.add_argument("--example-chars", type=int, default=6_000, help="longest seed source to show (characters)")
    p.add_argument("--json", action="store_true")
    add_executor_options(p)
    p.set_defaults(func=cmd_synthesize)

    p = sub.add_parser("archive", help="the archive of validated environments: add, list, show, export")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("add", help="validate a file and admit it on success")
    a.add_argument("file")
    _model_options(a)
    a.add_argument("--max-tokens", type=int, default=384, help="tokens per review and per calibration answer")
    add_executor_options(a)
    a = actions.add_parser("list", help="admitted environments (or --rejected candidates)")
    a.add_argument("--rejected", action="store_true")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("show", help="one admitted environment")
    a.add_argument("name")
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("export", help="write every admitted source and a manifest to DIR")
    a.add_argument("dest", metavar="DIR")
    for parser in actions.choices.values():
        parser.add_argument("--archive", default=None, metavar="DIR")
    p.set_defaults(func=cmd_archive)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `envfoundry`")
