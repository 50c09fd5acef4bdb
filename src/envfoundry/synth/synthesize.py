"""Synthesis rounds: propose candidates, validate each, archive every outcome, repair once.

Every candidate is archived as soon as it is judged (admitted, or rejected with the stage and the
reason), so a run killed at any point loses at most the candidate in flight.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from tqdm import tqdm

from envfoundry.errors import InvalidInputError
from envfoundry.llm.extract import extract_code
from envfoundry.synth.pipeline import Validation, validate
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
    result = validate(candidate, context)
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
) -> dict[str, Any]:
    """Run ``rounds`` rounds of ``candidates`` proposals; returns the run's funnel and summary.

    ``examples`` seed environments of at most ``example_chars`` characters go into each prompt.
    ``run_info`` is recorded with the run's configuration (a caller's label, e.g. the evolve stage).
    """
    if rounds < 1 or candidates < 1:
        raise InvalidInputError("rounds and candidates must be at least 1")
    rng = random.Random(seed)
    proposer = Proposer(getattr(generator, "name", "model"), rng, examples, example_chars)
    context = Context(generator=generator, solver=solver, novelty_index=novelty_index(archive),
                      **(context_options or {}))  # fmt: skip
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
                                                        temperature):  # fmt: skip
                outcomes[_outcome(result)] += 1
                if repair and result.failed is not None and result.failed.name in REPAIRABLE:
                    fix = proposer.repair(result.candidate, result.failed.reason)
                    for _, repaired in _generate_and_check(generator, [fix], context, archive, run_id, max_tokens,
                                                           temperature):  # fmt: skip
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
    code = extract_code(text) if text else None
    if code is None:
        why = failure or "no Python module found in the reply"
        result = Validation(Candidate(text or "", lineage=lineage),
                            [StageReport(EXTRACT, False, why, {"reply": (text or "")[-500:]})])  # fmt: skip
        _store(archive, result, run_id)
        return result
    return check_candidate(Candidate(code, lineage=lineage), context, archive, run_id)


def _generate_and_check(generator, proposals: list[Proposal], context, archive, run_id, max_tokens, temperature):
    replies = generator.chat_many([p.messages for p in proposals], max_tokens=max_tokens, temperature=temperature)
    for proposal, reply in zip(proposals, replies, strict=True):
        text = getattr(reply, "text", None)
        failure = f"the model call failed: {reply}" if text is None else ""
        yield proposal, judge_reply(text, proposal.lineage, context, archive, run_id, failure)
