"""The stage loop end to end on the embedded model (tiny settings): each stage trains on exactly
the configuration the engineer wrote, is evaluated per cell, and is logged with its summary, the
engineer's replies, clamps, diff and next configuration; a run killed before its last stage was
recorded resumes to the same end (through the command line); bad settings are one sentence;
``envfoundry report`` draws the run.

The loop runs on edit_distance here: the loop is the same for every environment, and a
MAPF-FrozenLake prompt is about 550 tokens against edit_distance's 120, which makes a GRPO step
about five times slower on a CPU (``benchmarks/engineer.py`` runs MAPF-FrozenLake; the other
engineer tests read its real verdicts)."""

from __future__ import annotations

import json
import shutil

import pytest

from envfoundry.cli.main import main
from envfoundry.engineer import EngineerConfig, read_stages, run_engineer
from envfoundry.errors import InvalidInputError
from envfoundry.train.run import TrainConfig, train

pytest.importorskip("trl", reason="the engineer trains with TRL (pip install -e '.[train]')")

TINY = {"env": "edit_distance", "stages": 2, "steps_per_stage": 1, "group_size": 2, "groups_per_step": 1, "max_completion_length": 8,
        "eval_seeds": 2, "validation_levels": (0.0,), "validation_seeds": 2, "batch_size": 8}  # fmt: skip
# Stage 1's engineer asks for longer strings and more edits than the space allows; stage 2's writes
# nothing usable, twice (the repair attempt included), so its configuration stands.
REPLIES = [
    {"when": "Configuration of stage 1 (just trained on)",
     "replies": ['{"config": {"length": 8, "edit_rate": 0.9}, "rationale": "longer strings"}']},
    {"when": "Configuration of stage 2 (just trained on)", "replies": ["Longer!", '{"config": {"words": 2}}']},
]  # fmt: skip
START = {"length": 4, "alphabet": 26, "edit_rate": 0.1}  # edit_distance at level 0
NEXT = {**START, "length": 8, "edit_rate": 0.6}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("engineer")
    replies = root / "replies.json"
    replies.write_text(json.dumps(REPLIES))
    out = root / "run"
    state = run_engineer(EngineerConfig(**TINY, engineer=f"replay:{replies}", out=str(out)), progress=False)
    return out, state, replies


def test_each_stage_trains_on_the_engineers_configuration_and_logs_it(run):
    out, state, _ = run
    first, second = records = read_stages(out)
    assert records == state["stages"] and state["kind"] == "engineer" and state["start"] == START
    assert first["config"] == START and first["diff"] == [{"param": "length", "from": 4, "to": 8},
                                                          {"param": "edit_rate", "from": 0.1, "to": 0.6}]  # fmt: skip
    proposal = first["engineer"]
    assert proposal["outcome"] == "accepted" and proposal["rationale"] == "longer strings"
    assert proposal["proposed"] == {"length": 8, "edit_rate": 0.9} and proposal["adjusted"] == [
        "edit_rate 0.9 -> 0.6 (its maximum)"]  # fmt: skip
    assert "Failures on held-out instances after stage 1" in proposal["prompt"]
    # Stage 2 trained on exactly that configuration, on new instances, from stage 1's policy.
    assert second["config"] == first["next_config"] == NEXT
    trained = json.loads((out / "stage-2" / "train" / "eval.json").read_text())["config"]
    assert sorted(trained["params"]) == sorted(f"edit_distance.{k}={v}" for k, v in NEXT.items())
    assert trained["first_seed"] == 1_010_000 and trained["model"] == str(out / "stage-1" / "train" / "final")
    # Its proposal was unusable twice: the configuration stands, and the record says why.
    rejected = second["engineer"]
    assert rejected["outcome"] == "rejected" and second["next_config"] == NEXT and second["diff"] == []
    assert [a["reply"] for a in rejected["attempts"]] == ["Longer!", '{"config": {"words": 2}}']
    assert "unknown parameter(s) 'words'" in rejected["note"] and "previous configuration stands" in rejected["note"]
    for record, probed in ((first, ["current", "length harder"]), (second, ["current", "edit_rate easier"])):
        summary = record["summary"]
        assert [cell["cell"] for cell in summary["cells"]] == probed
        for cell in summary["cells"]:
            assert cell["n"] == 2 and sum(cell["failures"].values()) == round(2 * (1 - cell["pass_rate"]))
            assert all(example["failure"] in cell["failures"] for example in cell["examples"])
        assert summary["training"]["steps"] == 1 and len(summary["training"]["dead_group_share_per_step"]) == 1
        assert list(summary["validation"]["cells"]) == ["validation level 0"]
        assert (out / f"stage-{record['stage']}" / "train" / "final" / "config.json").is_file()
        assert not list((out / f"stage-{record['stage']}" / "train").glob("checkpoint-*"))  # only the final policy
    # Stage 1's configuration is validation level 0: evaluated once, the same figures.
    assert first["summary"]["validation"]["cells"]["validation level 0"]["failures"] == \
        first["summary"]["cells"][0]["failures"]  # fmt: skip


def test_a_run_killed_before_its_last_record_resumes_to_the_same_end(run, tmp_path, capsys):
    out, state, _ = run
    # A copy without the weights: resuming must reuse stage 2's finished training and evaluation.
    copy = tmp_path / "run"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    lines = (copy / "stages.jsonl").read_text().splitlines(keepends=True)
    (copy / "stages.jsonl").write_text(lines[0])  # killed after stage 2's evaluation, before its record
    assert main(["engineer", "--out", str(copy), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "length 4 -> 8, edit_rate 0.1 -> 0.6" in printed and "rejected" in printed
    assert "clamped: edit_rate 0.9 -> 0.6 (its maximum)" in printed
    resumed = read_stages(copy)
    for before, after in zip(state["stages"], resumed, strict=True):
        assert {**before, "seconds": None} == {**after, "seconds": None}
    with pytest.raises(InvalidInputError, match="holds an engineer run already"):
        run_engineer(EngineerConfig(**TINY, engineer="fixed", out=str(copy)), progress=False)
    with pytest.raises(InvalidInputError, match="was run with engineer="):
        run_engineer(EngineerConfig(**TINY, engineer="fixed", out=str(copy), resume=True), progress=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ablate", "rewards"], "unknown ablation 'rewards'"),
        (["--engineer", "heuristic", "--ablate", "failures"], "the heuristic baseline reads no prompt"),
        (["--engineer", "http://localhost:1/v1"], "needs its model id"),
        (["--resume"], "nothing to resume"),
        (["--stages", "0"], "stages must be at least 1"),
        (["--start", "size=99"], "parameter 'size' must be in [4, 8]"),  # MAPF-FrozenLake, the default
        (["--env", "seeds"], "the engineer configures one environment"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert main(["engineer", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_pinned_training_parameters_are_checked_before_any_model_loads():
    with pytest.raises(InvalidInputError, match="looks like ENV.NAME=VALUE"):
        TrainConfig(params=["size=5"])
    with pytest.raises(InvalidInputError, match="first_seed must be at least 1,000,000"):
        TrainConfig(first_seed=5)
    with pytest.raises(InvalidInputError, match="pins 'mapf_frozenlake', which is not in the pool"):
        train(TrainConfig(envs="edit_distance", params=["mapf_frozenlake.size=5"]))
    with pytest.raises(InvalidInputError, match="unknown parameter 'lakes'"):
        train(TrainConfig(envs="mapf_frozenlake", params=["mapf_frozenlake.lakes=5"]))


def test_the_report_draws_the_stages_and_the_proposals(run, tmp_path):
    pytest.importorskip("plotly", reason="the report needs plotly (pip install -e '.[report]')")
    from envfoundry.report import detect_kind, write_report

    out, state, _ = run
    assert detect_kind(out) == "engineer"
    page = write_report(out, tmp_path / "report.html").read_text()
    section = page[page.index('<section id="engineer">'):]
    section = section[: section.index("</section>")]
    assert "engineer-stages" in section and "1 proposal(s) rejected" in section
    assert "length 4 → 8, edit_rate 0.1 → 0.6" in section and "longer strings" in section
    assert "unknown parameter(s) &#x27;words&#x27;" in section  # the replies, escaped
    assert 'id="curves-held-out"' in page and 'id="dynamics-steps"' in page  # validation per stage, training steps
