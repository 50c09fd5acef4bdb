"""CPU seconds per candidate for the model-free validation stages: static, execution, novelty.

Runs the pipeline (no language model: review and calibration are skipped) on every module of the
test corpus (sound candidates and every kind of unsound one) and on the 14 seeds, and reports CPU
seconds per candidate: the host process plus the sandbox workers it started (reaped when the
candidate's sandbox closes, so their CPU time is counted). One-time costs (loading MiniLM and
embedding the seeds) are reported apart. Each figure is from one run.

    python benchmarks/validation.py [--out benchmarks/results/validation.json]

Goal (issue: synthesis): < 2 CPU seconds per candidate for stages 1, 2 and 5.
"""

from __future__ import annotations

import argparse
import inspect
import resource
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from envfoundry.core import get_class
from envfoundry.envs import seed_names
from envfoundry.similarity import NoveltyIndex
from envfoundry.synth.pipeline import validate
from envfoundry.synth.stages.base import Candidate, Context
from results_json import write_results

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "synth" / "corpus"


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _candidates() -> list[tuple[str, str, str]]:
    out = [(f"corpus/{p.stem}", p.name, p.read_text()) for p in sorted(CORPUS.glob("*.py"))]
    for name in seed_names():
        # The real path: a seed's own entry in the novelty index is left out, the other 13 are not.
        path = inspect.getsourcefile(get_class(name))
        with open(path, encoding="utf-8") as handle:
            out.append((f"seed/{name}", path, handle.read()))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="benchmarks/results/validation.json")
    args = parser.parse_args(argv)

    started, cpu0 = time.perf_counter(), _cpu()
    index = NoveltyIndex.for_seeds()
    index.score("x = 1\n")  # loads MiniLM and embeds the seeds now, not inside the first candidate
    setup = {"wall_s": time.perf_counter() - started, "cpu_s": _cpu() - cpu0}
    print(f"one-time: novelty index of the seeds in {setup['wall_s']:.1f} s wall, {setup['cpu_s']:.1f} CPU s")

    rows = []
    for label, filename, source in tqdm(_candidates(), desc="validating", unit="candidate", leave=False):
        before, wall = _cpu(), time.perf_counter()
        result = validate(Candidate(source, filename=filename), Context(novelty_index=index))
        rows.append({
            "candidate": label,
            "outcome": "admitted" if result.admitted else f"rejected at {result.failed.name}",
            "cpu_s": round(_cpu() - before, 4),
            "wall_s": round(time.perf_counter() - wall, 4),
            "stages_run": [r.name for r in result.reports if not r.skipped],
            "host_cpu_by_stage": {r.name: r.figures.get("cpu_seconds") for r in result.reports if not r.skipped},
        })  # fmt: skip

    print(f"\n{'candidate':<44}{'outcome':<24}{'CPU s':>8}{'wall s':>8}")
    for row in rows:
        print(f"{row['candidate']:<44}{row['outcome']:<24}{row['cpu_s']:>8.2f}{row['wall_s']:>8.2f}")
    cpu = [row["cpu_s"] for row in rows]
    full = [row["cpu_s"] for row in rows if "novelty" in row["stages_run"]]
    print(f"\nCPU s per candidate: median {statistics.median(cpu):.2f}, max {max(cpu):.2f} over {len(rows)}; "
          f"for those that reach novelty (all three stages): median {statistics.median(full):.2f}, "
          f"max {max(full):.2f} (goal < 2)")  # fmt: skip

    write_results(args.out, "validation", {
        "one_time": setup,
        "rows": rows,
        "summary": {"median_cpu_s": statistics.median(cpu), "max_cpu_s": max(cpu),
                    "median_cpu_s_all_stages": statistics.median(full), "max_cpu_s_all_stages": max(full),
                    "goal_cpu_s": 2.0, "met": max(full) < 2.0},
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
