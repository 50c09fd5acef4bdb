"""OpenRLHF's remote reward API, ``POST /get_reward``, so ``--remote_rm_url http://HOST:PORT/get_reward``
points OpenRLHF at envfoundry.

OpenRLHF posts ``{"query": [...], "prompts": [...], "labels": [...]}``: each query is the prompt as
the model saw it (chat template applied) followed by the response, decoded with special tokens;
``labels`` are the dataset's label column (``--label_key``), which for envfoundry is the label that
``/sample`` (or ``envfoundry export``) gives: the instance's JSON. It reads ``rewards`` (the
advantage's input), ``scores`` (0-1, for dynamic filtering) and ``extra_logs`` (per-sample values it
logs beside its own), one entry per query.

The response is the query after its prompt. The prompt must be cut off, not searched: every
envfoundry prompt shows an example ``<answer>`` block, which would otherwise be read as the answer of
a response that has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envfoundry.errors import InvalidInputError
from envfoundry.serve import payloads

FIELDS = ("query", "prompts", "labels")


def response_text(query: str, prompt: str | None, instance_prompt: str) -> str:
    """The response inside a query: after the prompt OpenRLHF sent with it, else after the first
    occurrence of the instance's own prompt (a template may wrap it), else the whole query."""
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    for marker in (prompt, instance_prompt):
        if marker:
            found = query.find(marker)
            if found >= 0:
                return query[found + len(marker) :]
    return query


def get_reward(service: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    """Rewards for OpenRLHF's batch; fields other than query, prompts and labels are ignored (forks
    send more)."""
    limit = service.config.max_batch
    queries = payloads.string_list(data, "query", limit)
    if data.get("labels") is None:
        raise InvalidInputError("'labels' is required: train on a dataset with envfoundry's label column and "
                                "pass it to OpenRLHF with --label_key label")  # fmt: skip
    labels = payloads.sequence(data["labels"], "labels", limit)
    prompts = payloads.string_list(data, "prompts", limit, required=False)
    if len(labels) != len(queries) or (prompts is not None and len(prompts) != len(queries)):
        counts = f"{len(queries)} queries, {len(labels)} labels" + (f", {len(prompts)} prompts" if prompts else "")
        raise InvalidInputError(f"got {counts}; send one of each per sample")
    instances = service.instances_from_labels(labels, "labels")
    responses = [response_text(query, prompts[i] if prompts else None, instances[i].prompt)
                 for i, query in enumerate(queries)]  # fmt: skip
    verdicts = service.score_instances(instances, responses)
    bonus = service.config.format_reward
    scores = [v.reward for v in verdicts]
    return {
        "rewards": [v.reward + bonus if v.format_ok else v.reward for v in verdicts] if bonus else scores,
        "scores": scores,
        "extra_logs": {
            "correct": [float(v.correct) for v in verdicts],
            "format_ok": [float(v.format_ok) for v in verdicts],
        },
    }
