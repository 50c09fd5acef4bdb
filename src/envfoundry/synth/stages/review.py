"""Stage 4, semantic self-review: the generator model reviews the candidate's code against a
checklist, with sampled instances and their references in view. Three independent reviews; any
explicit rejection kills the candidate, and at least two must explicitly accept."""

from __future__ import annotations

import re
from typing import Any

from envfoundry.synth.stages.base import Candidate, Context, StageReport, timed

NAME = "review"
MIN_ACCEPTS = 2
MAX_CODE_CHARS = 6_000
MAX_PROMPT_CHARS = 800
_VERDICT = re.compile(r"verdict\s*[:\-]?\s*\**\s*(accept|reject)", re.IGNORECASE)

CHECKLIST = """Check the environment against this list:
1. Each task prompt is unambiguous: one reading, all information needed to answer is given.
2. The prompt states the answer format, and it matches what verify() parses.
3. The reference answer shown is right for each instance shown.
4. verify() accepts every correct answer and rejects wrong ones (no substring or lenient matching).
End your reply with exactly one line: "VERDICT: ACCEPT" or "VERDICT: REJECT: <the problem>"."""


def review_messages(source: str, instances: list[Any]) -> list[dict[str, str]]:
    shown = "\n\n".join(
        f"Instance {k + 1} (level {instance.level}):\nPROMPT:\n{instance.prompt[:MAX_PROMPT_CHARS]}\n"
        f"REFERENCE ANSWER: {instance.reference[:300]}"
        for k, instance in enumerate(instances)
    )
    return [
        {"role": "system", "content": "You review reinforcement-learning environments written in Python for bugs."},
        {
            "role": "user",
            "content": f"Environment code:\n```python\n{source[:MAX_CODE_CHARS]}\n```\n\nSampled instances:\n\n"
            f"{shown}\n\n{CHECKLIST}",
        },
    ]


def parse_verdict(reply: str) -> str:
    """``accept``, ``reject`` or ``abstain`` (no verdict found)."""
    found = _VERDICT.findall(reply or "")
    if found:
        return found[-1].lower()
    return "abstain"


def run(candidate: Candidate, context: Context) -> StageReport:
    def body() -> StageReport:
        if context.generator is None:
            return StageReport(NAME, True, "skipped: no generator model given", skipped=True)
        picks = [batch[0] for level, batch in sorted(context.instances.items()) if batch][::2][:3]
        messages = review_messages(candidate.source, picks)
        replies = context.generator.chat_many(
            [messages] * context.reviews, max_tokens=context.max_tokens, temperature=0.7
        )
        verdicts, excerpts = [], []
        for reply in replies:
            text = getattr(reply, "text", None)
            verdicts.append(parse_verdict(text) if text is not None else "abstain")
            excerpts.append((text if text is not None else f"(failed: {reply})")[-400:])
        figures = {"verdicts": verdicts, "replies": excerpts, "reviewer": getattr(context.generator, "name", "?")}
        if "reject" in verdicts:
            reason = excerpts[verdicts.index("reject")].strip().splitlines()[-1][:200]
            return StageReport(NAME, False, f"a review rejected it: {reason}", figures)
        accepts = verdicts.count("accept")
        if accepts < MIN_ACCEPTS:
            return StageReport(NAME, False, f"only {accepts} of {len(verdicts)} reviews accepted it "
                               f"(need {MIN_ACCEPTS}; the rest gave no verdict)", figures)  # fmt: skip
        return StageReport(NAME, True, f"{accepts} of {len(verdicts)} reviews accepted it", figures)

    return timed(NAME, body)
