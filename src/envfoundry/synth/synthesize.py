"""Synthesis rounds: propose candidates, validate each, archive every outcome, repair once.

Every candidate is archived as soon as it is judged (admitted, or rejected with the stage and the
reason), so a run killed at any point loses at most the round in flight. A round's candidates are
validated as one batch: their sandbox stages at once, on the context's executor (a local process
pool or a Ray cluster), then their host stages one by one in order, each repair right after the
candidate it repairs, as if they had been validated one at a time.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from tqdm import tqdm

from envfoundry.errors import InvalidInputError
from envfoundry.llm.extract import extract_code
from envfoundry.synth.pipeline import Prevalidation, Validation, finish, prevalidate_many
from envfoundry.synth.proposer import Proposal, Proposer
from envfoundry.synth.stages import novelty
from envfoundry.synth.stages.base import Candidate, Context, StageReport

# Rejections worth one repair attempt: the model can fix code; it cannot fix "not novel".
REPAIRABLE = ("static", "execution", "review")
EXTRACT = "extract"


def novelty_index(archive: Any = None) -> Any:
    """The seeds plus every archived environment (with the prompts recorded when it was admitted)."""
    index = novelty.NoveltyIndex.for_seeds()
    if archive is not None:
        for env in archive.environments():
            prompts = (env.novelty or {}).get("prompts") or []
            code = (env.novelty or {}).get("code") or archive.source(env.name)
            index.add(f"archive:{env.name}", code, prompts)
    return index


def sample_prompts(context: Context) -> list[str]:
    return [batch[0].prompt for _, batch in sorted(context.instances.items()) if batch][:3]


def _store(archive: Any, validation: Validation, run_id: str | None, info: dict[str, Any] | None = None) -> None:
    archive.record(
        validation.candidate.source,
        reports=[r.to_dict() for r in validation.reports],
        admitted=validation.admitted,
        env_name=validation.candidate.name,
        lineage=validation.candidate.lineage,
        run_id=run_id,
        info=info,
    )


def record(archive: Any, validation: Validation, run_id: str | None, prompts: list[str]) -> None:
    info = dict(validation.info)
    if validation.admitted:
        info["novelty"] = {**(info.get("novelty") or {}), "prompts": prompts}
        if validation.candidate.novelty_source:
            info["novelty"]["code"] = validation.candidate.novelty_source
    try:
        _store(archive, validation, run_id, info)
    except ValueError as exc:  # e.g. the name is taken in the archive by another environment
        validation.reports.append(StageReport(novelty.NAME, False, str(exc)))
        _store(archive, validation, run_id)  # no longer admitted: a failed report was added


def check_candidate(candidate: Candidate, context: Context, archive: Any = None, run_id: str | None = None,
                    before: list[StageReport] | None = None) -> Validation:  # fmt: skip
    """Validate one candidate and (with an archive) record the outcome; admitted ones join the
    novelty index so later candidates are compared against them. ``before``: reports of stages a
    caller ran first (the converter's), recorded ahead of the pipeline's."""
    [prevalidation] = prevalidate_many([candidate], context)
    return judge(candidate, prevalidation, context, archive, run_id, before)


def check_candidates(candidates: Sequence[Candidate], context: Context, archive: Any = None,
                     run_id: str | None = None, *, progress: bool = False) -> Iterator[Validation]:  # fmt: skip
    """Validate a batch, yielding each outcome in order once it is judged and recorded: the sandbox
    stages of every candidate at once on ``context.executor``, then each candidate's host stages,
    so novelty compares it with the ones admitted before it (a caller may act between two)."""
    prevalidations = prevalidate_many(candidates, context, progress=progress)
    for candidate, prevalidation in zip(candidates, prevalidations, strict=True):
        yield judge(candidate, prevalidation, context, archive, run_id)


def judge(candidate: Candidate, prevalidation: Prevalidation, context: Context, archive: Any = None,
          run_id: str | None = None, before: list[StageReport] | None = None) -> Validation:  # fmt: skip
    """The host stages of a prevalidated candidate, and the record of its outcome (``check_candidate``)."""
    result = finish(candidate, prevalidation, context)
    result.reports[:0] = before or []
    prompts = sample_prompts(context)
    if archive is not None:
        record(archive, result, run_id, prompts)
    if result.admitted and context.novelty_index is not None:
        context.novelty_index.add(f"archive:{candidate.name}", candidate.novelty_source or candidate.source, prompts)
    return result


def synthesize(
    generator: Any,
    archive: Any,
    *,
    rounds: int,
    candidates: int,
    solver: Any = None,
    seed: int = 0,
    repair: bool = True,
    max_tokens: int = 1024,
    temperature: float = 0.8,
    progress: bool = True,
    context_options: dict[str, Any] | None = None,
    examples: int = 1,
    example_chars: int = 6_000,
    run_info: dict[str, Any] | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Run ``rounds`` rounds of ``candidates`` proposals; returns the run's funnel and summary.

    ``examples`` seed environments of at most ``example_chars`` characters go into each prompt.
    ``run_info`` is recorded with the run's configuration (a caller's label, e.g. the evolve stage).
    ``executor`` (``envfoundry.executor``) runs each round's sandbox stages; None: this process.
    """
    if rounds < 1 or candidates < 1:
        raise InvalidInputError("rounds and candidates must be at least 1")
    rng = random.Random(seed)
    proposer = Proposer(getattr(generator, "name", "model"), rng, examples, example_chars)
    context = Context(generator=generator, solver=solver, novelty_index=novelty_index(archive),
                      **(context_options or {}))  # fmt: skip
    if executor is not None:
        context.executor = executor
    config = {"rounds": rounds, "candidates": candidates, "seed": seed, "generator": proposer.generator_name,
              "solver": getattr(solver, "name", None), "max_tokens": max_tokens, "repair": repair,
              **(run_info or {})}  # fmt: skip
    run_id = archive.start_run(config)
    outcomes: Counter[str] = Counter()
    bar = tqdm(total=rounds * candidates, desc="synthesis", unit="candidate", disable=not progress)
    try:
        for _ in range(rounds):
            parents = archive.environments()  # the archive changes only when the round's candidates are judged
            archived = [env.name for env in parents]
            proposals = []
            for _ in range(candidates):
                if parents and rng.random() < 0.3:
                    parent = rng.choice(parents)
                    proposals.append(proposer.mutate(parent.name, archive.source(parent.name), archived))
                else:
                    proposals.append(proposer.new(archived))
            for _, result in _generate_and_check(generator, proposals, context, archive, run_id, max_tokens,
                                                        temperature, progress):  # fmt: skip
                outcomes[_outcome(result)] += 1
                if repair and result.failed is not None and result.failed.name in REPAIRABLE:
                    fix = proposer.repair(result.candidate, result.failed.reason)
                    for _, repaired in _generate_and_check(generator, [fix], context, archive, run_id, max_tokens,
                                                           temperature, False):  # fmt: skip
                        outcomes["repair:" + _outcome(repaired)] += 1
                bar.update()
                bar.set_postfix(admitted=outcomes["admitted"] + outcomes["repair:admitted"], refresh=False)
    finally:
        bar.close()
        summary = {"outcomes": dict(outcomes), "funnel": archive.funnel(run_id)}
        archive.finish_run(run_id, summary)
    return {"run_id": run_id, **summary}


def _outcome(result: Validation) -> str:
    return "admitted" if result.admitted else f"rejected at {result.failed.name if result.failed else '?'}"


def judge_reply(text: str | None, lineage: dict[str, Any], context: Context, archive: Any, run_id: str | None,
                failure: str = "") -> Validation:  # fmt: skip
    """Validate the module a generator's reply holds and record the outcome; a reply with no module
    (or a failed call, ``failure`` saying why) is recorded as rejected at the ``extract`` step."""
    return next(judge_replies([(text, failure)], [lineage], context, archive, run_id))


def judge_replies(replies: Sequence[tuple[str | None, str]], lineages: Sequence[dict[str, Any]], context: Context,
                  archive: Any, run_id: str | None, *, progress: bool = False) -> Iterator[Validation]:  # fmt: skip
    """``judge_reply`` for a batch of ``(text, failure)`` replies, validated together
    (``check_candidates``); the outcomes come, and are recorded, in the replies' order."""
    candidates = {}
    for index, ((text, _), lineage) in enumerate(zip(replies, lineages, strict=True)):
        code = extract_code(text) if text else None
        if code is not None:
            candidates[index] = Candidate(code, lineage=lineage)
    judged = check_candidates(list(candidates.values()), context, archive, run_id, progress=progress)
    for index, ((text, failure), lineage) in enumerate(zip(replies, lineages, strict=True)):
        if index in candidates:
            yield next(judged)
            continue
        why = failure or "no Python module found in the reply"
        result = Validation(Candidate(text or "", lineage=lineage),
                            [StageReport(EXTRACT, False, why, {"reply": (text or "")[-500:]})])  # fmt: skip
        _store(archive, result, run_id)
        yield result


def _generate_and_check(generator, proposals: list[Proposal], context, archive, run_id, max_tokens, temperature,
                        progress=False):  # fmt: skip
    replies = generator.chat_many([p.messages for p in proposals], max_tokens=max_tokens, temperature=temperature)
    texts = []
    for reply in replies:
        text = getattr(reply, "text", None)
        texts.append((text, f"the model call failed: {reply}" if text is None else ""))
    judged = judge_replies(texts, [p.lineage for p in proposals], context, archive, run_id, progress=progress)
    yield from zip(proposals, judged, strict=True)
