"""Convert programming problems into environments and admit the sound ones into the archive.

For each problem:

1. **template**: the problem's code is placed in a probe module (``template.render``): every
   solution, its tests, the scale parameters wide open;
2. the probe is started in the sandbox (its static pre-check first): the problem's code runs
   nowhere else;
3. **agreement** (``stages/agreement.py``): solutions agree, the reference passes the tests;
4. **scale** (``stages/scale.py``): the largest input scale within the budgets becomes level 1;
   **calls** (``stages/calls.py``): a function whose single calls have too few distinct outputs
   is asked about several calls an instance, and the scale is searched again with that many;
5. the module with that space goes through the usual validation stages (static, execution with the
   check battery and SCALER's distinct-output rule, novelty on the problem's own code; review and
   calibration when a model is given) and every outcome is archived, admitted or rejected, with
   the source problem as lineage (dataset, task id, solution hash).

Every problem ends as one outcome, "converted" or "rejected at STAGE: reason"; nothing raises for
what a problem holds. Work per problem is timed in CPU seconds (this process and its sandbox
workers).
"""

from __future__ import annotations

import dataclasses
import functools
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from envfoundry.convert import template
from envfoundry.convert.problems import Problem
from envfoundry.convert.stages import agreement, calls, scale
from envfoundry.core.programs import infer_spec, spec_dimensions
from envfoundry.sandbox import SandboxedEnvironment, SandboxError
from envfoundry.sandbox.environment import SandboxRejected
from envfoundry.sandbox.isolation import SandboxUnavailable
from envfoundry.synth.pipeline import Validation, prevalidate_many
from envfoundry.synth.stages import static as static_stage
from envfoundry.synth.stages.base import Candidate, Context, StageReport
from envfoundry.synth.stages.execution import DEFAULT_LIMITS
from envfoundry.synth.synthesize import judge, novelty_index, record

TEMPLATE = "template"
# Rounds of (calls, scale again): the calls are measured at the new scale until they settle.
CALLS_ROUNDS = 3


@dataclass
class Outcome:
    """What became of one problem."""

    problem: str
    name: str | None
    converted: bool
    stage: str | None
    reason: str
    cpu_seconds: float
    reports: list[dict[str, Any]] = field(default_factory=list)
    level_1: dict[str, Any] | None = None
    # Where the inputs come from: "problem" (its own generator), "llm" (one a model wrote) or
    # "mutation" (the examples grown by type-aware mutation).
    inputs: str = "mutation"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (the sandbox workers) so far."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def initial_scale(problem: Problem) -> template.Scale:
    """Each scale parameter from the examples' own scale (level 0) to its cap: ``size`` and
    ``magnitude`` for grown examples, the declared ranges for a problem's own input generator.
    ``ValueError`` when the examples say nothing usable."""
    generator = problem.input_generator
    if generator is not None:
        params = generator.get("params", {})
        return template.Scale({name: (spec["low"], spec["high"], spec["type"]) for name, spec in params.items()},
                              {name: spec["low"] for name, spec in params.items()})  # fmt: skip
    if problem.kind != "function":
        raise ValueError("a stdin/stdout problem needs an input generator (input_generator, or --llm to write one)")
    if not problem.examples:
        raise ValueError("no example inputs with literal arguments in the tests or the docstring")
    dims = spec_dimensions(infer_spec(problem.examples))
    caps = {"size": template.SIZE_CAP, "magnitude": template.MAGNITUDE_CAP}
    return template.Scale({name: (1, max(start, caps[name]), "int") for name, start in dims.items()}, dims)


@dataclass
class Probe:
    """What probing a problem in the sandbox found (plain data: it may come back from an executor's
    worker): the reports of the converter's stages, the probe module's source once written, and the
    scale that becomes the environment's space (None where a stage rejected the problem)."""

    reports: list[StageReport]
    source: str | None = None
    found: template.Scale | None = None


def probe(problem: Problem, sandbox_options: dict[str, Any]) -> Probe:
    """The converter's own stages for one problem (template, agreement, scale, calls), with its code
    in a sandbox started here: in this process, or on the executor's worker that runs this. Never
    raises for what the problem holds: a failure is a report."""
    reports: list[StageReport] = []
    result = Probe(reports)
    try:
        result.found = _probe(problem, sandbox_options, reports, result)
    except SandboxUnavailable:
        raise  # no problem can be judged until the sandbox works: not this problem's fault
    except Exception as exc:  # noqa: BLE001 - one problem's failure never stops the run
        reports.append(StageReport("convert", False, f"conversion raised {type(exc).__name__}: {exc}"))
    return result


def _probe(problem: Problem, sandbox_options: dict[str, Any], reports: list[StageReport],
           result: Probe) -> template.Scale | None:  # fmt: skip
    try:
        dims = initial_scale(problem)
        probe_source = template.render(problem, dims, probe=True)
    except (ValueError, template.ConversionError) as exc:
        reports.append(StageReport(TEMPLATE, False, str(exc)))
        return None
    result.source = probe_source
    passed, reason, figures, _ = static_stage.check_source(probe_source, f"{problem.label}.py")
    if not passed:
        reports.append(StageReport(static_stage.NAME, False, reason, figures))
        return None
    try:
        env = SandboxedEnvironment(source=probe_source, filename=f"{problem.label}.py", **sandbox_options)
    except (SandboxError, SandboxRejected, ValueError) as exc:
        reports.append(StageReport("execution", False, f"the problem's code does not load in the sandbox: {exc}"))
        return None
    probes = [env]  # the balancing stage may replace the probe with one that balances its outputs
    try:
        report = agreement.run(problem, env, dict(dims.start))
        reports.append(report)
        if not report.passed:
            return None
        report, found = scale.run(env, dims)
        reports.append(report)
        if found is None:
            return None
        if problem.kind == "function" and problem.answers != "many":
            found = _settle_calls(problem, probes, dims, found, reports, sandbox_options)
        return found
    finally:
        probes[0].close()


def _settle_calls(problem: Problem, probe: list[Any], dims: template.Scale, found: template.Scale,
                  reports: list[StageReport], sandbox_options: dict[str, Any]) -> template.Scale | None:  # fmt: skip
    """The calls stage: where it balances the outputs, a probe that balances them replaces
    ``probe[0]`` and the stage measures again; then the scale stage runs again (with balancing
    on, and with the calls asked for) until the calls settle; the last scale report stands for
    the scale stage. None where the scale fails with them."""
    counted, wanted = calls.run(probe[0], found)
    unbalanced, rescale = None, False
    if counted.passed and wanted.balance and not found.balance:
        probe[0].close()
        dims = dataclasses.replace(dims, balance=wanted.balance)
        source = template.render(problem, dims, probe=True)
        probe[0] = SandboxedEnvironment(source=source, filename=f"{problem.label}.py", **sandbox_options)
        found = dataclasses.replace(found, balance=wanted.balance)
        unbalanced, rescale = counted.figures, True
        counted, wanted = calls.run(probe[0], found, may_balance=False)
    for _ in range(CALLS_ROUNDS):
        if not counted.passed or (wanted.calls <= found.calls and not rescale):
            break
        number = max(wanted.calls, found.calls)
        example = wanted.example if wanted.calls >= found.calls else found.example
        rescaled, refound = scale.run(probe[0], dataclasses.replace(dims, calls=number, example=example))
        reports[-1] = rescaled
        if refound is None:
            return None
        found, rescale = refound, False
        counted, wanted = calls.run(probe[0], found, may_balance=False)
    if unbalanced is not None:
        counted.figures["unbalanced"] = unbalanced
    if counted.passed and wanted.calls == found.calls:
        found = dataclasses.replace(found, example=wanted.example)
    elif counted.passed:  # fewer would do at the new scale, or more after the last round: the scale's stand
        counted.figures["calls_kept"] = found.calls
        counted.reason += f"; the {found.calls} calls the scale was searched with stand"
    reports.append(counted)
    return found if counted.passed else None


class Converter:
    """Converts problems one by one (or ``jobs`` at a time) into an archive.

    ``archive``: where outcomes are recorded (None: nothing is recorded). ``context_options``
    go to the validation ``Context`` (e.g. ``sandbox_options``, a ``generator`` to review).
    ``executor`` (``envfoundry.executor``): where each problem's code runs, its probe and the
    sandbox stages of its validation; recording and the host stages stay here, one at a time.
    """

    def __init__(self, archive: Any = None, *, context_options: dict[str, Any] | None = None,
                 sandbox_options: dict[str, Any] | None = None, run_id: str | None = None,
                 generator: Any = None, executor: Any = None) -> None:  # fmt: skip
        self.archive = archive
        # Where each problem's probe and its validation's sandbox stages run (None: here).
        self.executor = executor
        # A chat model that writes input generators for problems without one (``llm.py``).
        self.generator = generator
        self.written: dict[str, dict[str, Any] | None] = {}
        self.run_id = run_id
        self.context_options = context_options or {}
        self.sandbox_options = {"limits": DEFAULT_LIMITS, "workers": 1, **(sandbox_options or {})}
        self.index = novelty_index(archive)
        # The archive and the novelty index are shared: one problem at a time records and compares.
        self._lock = threading.Lock()

    def convert(self, problem: Problem) -> Outcome:
        """One problem's outcome: with a model's generator first where one was written, then (if that
        is rejected and the examples allow it) with the examples grown by mutation."""
        started = cpu_now()
        written = self.written.get(problem.label)
        if problem.input_generator is None and written is not None:
            outcome = self._convert_one(dataclasses.replace(problem, input_generator=written), "llm")
            if outcome.converted or problem.kind != "function" or not problem.examples:
                outcome.cpu_seconds = round(cpu_now() - started, 3)
                return outcome
        outcome = self._convert_one(problem, "problem" if problem.input_generator else "mutation")
        outcome.cpu_seconds = round(cpu_now() - started, 3)
        return outcome

    def _convert_one(self, problem: Problem, inputs: str) -> Outcome:
        started = cpu_now()
        reports: list[StageReport] = []
        name = template.environment_name(problem)
        # What the archive keeps of a problem rejected before validation: its probe module once
        # written, else its reference solution.
        attempt = {"source": problem.solutions[0]}
        try:
            result = self._convert(problem, reports, attempt)
        except SandboxUnavailable:
            raise  # no problem can be judged until the sandbox works: not this problem's fault
        except Exception as exc:  # noqa: BLE001 - one problem's failure never stops the run
            reports.append(StageReport("convert", False, f"conversion raised {type(exc).__name__}: {exc}"))
            result = None
        if result is None:
            validation = Validation(Candidate(attempt["source"], filename=f"{name}.py", lineage=self._lineage(problem)),
                                    reports)  # fmt: skip
            validation.candidate.name = name
            if self.archive is not None:
                with self._lock:
                    record(self.archive, validation, self.run_id, [])
        else:
            validation = result
        failed = validation.failed
        level_1 = next((r.figures.get("level_1") for r in validation.reports if r.name == scale.NAME), None)
        return Outcome(
            problem=problem.label,
            name=name,
            converted=validation.admitted,
            stage=None if validation.admitted else (failed.name if failed else "?"),
            reason=validation.reports[-1].reason if validation.admitted else (failed.reason if failed else ""),
            cpu_seconds=round(cpu_now() - started, 3),
            reports=[r.to_dict() for r in validation.reports],
            level_1=level_1,
            inputs=inputs,
        )

    def _lineage(self, problem: Problem) -> dict[str, Any]:
        # The model is named where this attempt draws inputs with the generator it wrote.
        written = problem.input_generator is not None and problem.input_generator is self.written.get(problem.label)
        model = getattr(self.generator, "name", None) if written else None
        return {"mode": "convert", "parents": [problem.label], "generator": model, "dataset": problem.dataset,
                "task_id": problem.task_id, "solution_hash": problem.solution_hash}  # fmt: skip

    def _convert(self, problem: Problem, reports: list[StageReport], attempt: dict[str, str]) -> Validation | None:
        job = functools.partial(probe, sandbox_options=self.sandbox_options)
        probed = (self.executor.map(job, [problem], desc="probe", progress=False)[0] if self.executor is not None
                  else job(problem))  # fmt: skip
        reports += probed.reports
        attempt["source"] = probed.source or attempt["source"]
        if probed.found is None:
            return None
        source = template.render(problem, probed.found)
        candidate = Candidate(source, filename=f"{template.environment_name(problem)}.py",
                              lineage=self._lineage(problem), novelty_source=_own_code(problem))  # fmt: skip
        context = Context(novelty_index=self.index, sandbox_options=self.sandbox_options, executor=self.executor,
                          **self.context_options)  # fmt: skip
        [prevalidation] = prevalidate_many([candidate], context)  # outside the lock: nothing shared yet
        with self._lock:  # the novelty stage reads the index the last admission changed
            return judge(candidate, prevalidation, context, self.archive, self.run_id, before=reports)

    def run(self, problems: Sequence[Problem], *, jobs: int = 1, progress: bool = True,
            on_outcome: Callable[[Outcome], None] | None = None) -> list[Outcome]:  # fmt: skip
        """Convert every problem; outcomes in the problems' order. With a model, it first writes an
        input generator for every problem that has none (one batch of calls)."""
        if self.generator is not None:
            from envfoundry.convert.llm import write_generators

            wanting = [p for p in problems if p.input_generator is None]
            for problem, written in zip(wanting, write_generators(self.generator, wanting), strict=True):
                self.written[problem.label] = written
        outcomes: list[Outcome | None] = [None] * len(problems)
        bar = tqdm(total=len(problems), desc="convert", unit="problem", disable=not progress)
        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = {pool.submit(self.convert, problem): index for index, problem in enumerate(problems)}
                for future in as_completed(futures):
                    outcome = future.result()
                    outcomes[futures[future]] = outcome
                    if on_outcome is not None:
                        on_outcome(outcome)
                    bar.update()
                    bar.set_postfix(converted=sum(1 for o in outcomes if o and o.converted), refresh=False)
        finally:
            bar.close()
        return [o for o in outcomes if o is not None]


def _own_code(problem: Problem) -> str:
    """What novelty compares: the problem's solutions, generator and validator, not the wrapper."""
    parts = list(problem.solutions)
    if problem.input_generator:
        parts.append(problem.input_generator["source"])
    if problem.validator:
        parts.append(problem.validator)
    return "\n\n".join(parts)


def summarise(outcomes: Sequence[Outcome], seconds: float | None = None,
              cpu_seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
    """The yield table as JSON: ``total``, ``converted``, ``rejected`` by stage and reason, CPU seconds.

    ``cpu_seconds``: the whole run's, measured around it (``cpu_now``). Without it the outcomes'
    own figures are summed; those are exact one job at a time, but with several jobs each problem's
    figure also holds what the others spent meanwhile."""
    rejected: Counter[str] = Counter()
    by_stage: Counter[str] = Counter()
    for outcome in outcomes:
        if not outcome.converted:
            by_stage[outcome.stage or "?"] += 1
            rejected[f"{outcome.stage}: {_reason_class(outcome.reason)}"] += 1
    total_cpu = sum(o.cpu_seconds for o in outcomes) if cpu_seconds is None else cpu_seconds
    summary = {
        "total": len(outcomes),
        "converted": sum(o.converted for o in outcomes),
        "rejected": dict(rejected.most_common()),
        "rejected_by_stage": dict(by_stage.most_common()),
        "cpu_seconds": round(total_cpu, 2),
        "cpu_seconds_per_problem": round(total_cpu / max(1, len(outcomes)), 3),
        "converted_by_inputs": dict(Counter(o.inputs for o in outcomes if o.converted)),
        "environments": [o.name for o in outcomes if o.converted],
    }
    if seconds is not None:
        summary["wall_seconds"] = round(seconds, 1)
    return summary


def _reason_class(reason: str) -> str:
    """A reason without its instance-specific details (seeds, inputs, figures), for counting."""
    text = reason.split(" (")[0]
    for cut in (" on ", ": ", " of seed", " at level"):
        if cut in text and not text.startswith(("only", "the reference")):
            text = text.split(cut)[0]
    return text[:90]
