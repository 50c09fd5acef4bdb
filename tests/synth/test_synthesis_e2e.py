"""One real synthesis round with the embedded model generating: SmolLM2-135M is weak and its
funnel may well admit nothing; what must hold is that the pipeline ran on what it wrote and the
archive recorded every candidate with its outcome."""

from __future__ import annotations

import pytest

from envfoundry.archive import Archive
from envfoundry.synth.synthesize import synthesize

pytest.importorskip("torch", reason="the embedded model needs the train extra (pip install -e '.[train]')")


def test_the_embedded_model_writes_candidates_and_every_one_is_judged_and_archived(tmp_path):
    from envfoundry.llm import EmbeddedChat

    model = EmbeddedChat(seed=0)
    with Archive(tmp_path / "archive") as archive:
        summary = synthesize(
            model, archive, rounds=1, candidates=2, max_tokens=96, progress=False, repair=False,
            examples=0, context_options={"reviews": 2, "calibration_per_level": 2, "max_tokens": 32},
        )  # fmt: skip
        records = archive.candidates(run_id=summary["run_id"])
        funnel = summary["funnel"]
        run = archive.run(summary["run_id"])
    assert len(records) == funnel["candidates"] == 2
    assert sum(summary["outcomes"].values()) == len(records)
    for record in records:
        assert record.admitted or (record.failed_stage and record.reason), record
        assert record.lineage["generator"] == model.name and record.lineage["mode"] in ("new", "mutate", "repair")
    assert run["finished_at"] is not None and run["summary"]["funnel"] == funnel
    assert model.usage.completion_tokens > 0 and model.usage.requests >= 2
