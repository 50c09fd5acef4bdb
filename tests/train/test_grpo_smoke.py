"""Two real GRPO steps with TRL on the embedded model, fed by the curriculum."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import envfoundry
from envfoundry.curriculum import Curriculum

torch = pytest.importorskip("torch", reason="training needs the train extra (pip install -e '.[train]')")


def test_two_grpo_steps_change_the_weights_and_feed_rewards_back(tmp_path):
    from trl import GRPOConfig, GRPOTrainer

    from envfoundry.llm.embedded import load_embedded_model_and_tokenizer
    from envfoundry.train.grpo import CurriculumReward, curriculum_dataset, make_callback

    model, tokenizer = load_embedded_model_and_tokenizer()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    names = ["planted_subset_sum", "countdown", "edit_distance"]
    curriculum = Curriculum({n: envfoundry.make(n) for n in names}, group_size=4, seed=0)
    reward = CurriculumReward(curriculum, format_weight=0.1)

    def length_shaping(prompts, completions, **kwargs):
        # The 135M model rarely writes an answer block in 12 tokens; this spread keeps advantages
        # non-zero so the smoke test sees an update. The curriculum still gets the env's rewards.
        return [len(c[-1]["content"]) / 1000 for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False, num_generations=4,
        per_device_train_batch_size=4, max_completion_length=12, max_steps=2, learning_rate=1e-4,
        logging_steps=1, report_to="none", save_strategy="no", shuffle_dataset=False, seed=0,
    )  # fmt: skip
    callback = make_callback(curriculum, tmp_path)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[reward, length_shaping], args=args,
                          train_dataset=curriculum_dataset(curriculum, groups_per_batch=1), callbacks=[callback])  # fmt: skip
    trainer.train()

    changed = [name for name, p in model.named_parameters() if not torch.equal(before[name], p)]
    assert changed, "two GRPO steps left every weight unchanged"
    assert reward.groups_reported == 2  # 1 group per step, each reported once
    lines = [json.loads(line) for line in (tmp_path / "curriculum.jsonl").read_text().splitlines()]
    assert [line["global_step"] for line in lines] == [1, 2] and all(line["groups"] == 1 for line in lines)
    assert curriculum.step == 2 and sum(line["envs"][e]["groups"] for line in lines for e in line["envs"]) == 2


def tensorboard_scalars(out):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars = {}
    for directory in {p.parent for p in out.glob("runs/*/events.out.tfevents.*")}:
        events = EventAccumulator(str(directory))
        events.Reload()
        for tag in events.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend((e.step, e.value) for e in events.Scalars(tag))
    return scalars


def test_the_train_command_checkpoints_evaluates_logs_and_resumes_where_it_left_off(cli_train_run, tmp_path,
                                                                                    capsys, monkeypatch):
    from envfoundry.cli.main import main

    printed = cli_train_run.printed
    # One row per environment and level: base model, after the warm-up, after GRPO.
    assert re.search(r"environment\s+level\s+base\s+warm-up\s+GRPO\n", printed)
    assert re.search(r"countdown\s+0.5(\s+\d+% \(\s*\d+%\)){3}\n", printed) and "dead-group share per step: " in printed
    first = cli_train_run.out
    assert (first / "checkpoint-1" / "curriculum.json").is_file() and (first / "final" / "config.json").is_file()
    assert (first / "warmup" / "model.safetensors").is_file()  # the warm-up's own checkpoint
    summary = json.loads((first / "eval.json").read_text())
    for rates in [summary["eval"][when] for when in ("before", "warmup", "after")] + list(
        summary["eval"]["format"].values()
    ):
        assert rates.keys() == {"planted_subset_sum", "countdown"}
        assert all(curve.keys() == {"0", "0.5"} for curve in rates.values())
    assert summary["eval"]["format"].keys() == {"before", "warmup", "after"}
    assert summary["warmup"]["steps"] == 1 and summary["warmup"]["examples"] == {"planted_subset_sum": 4, "countdown": 4}
    assert len(summary["dead_group_share_per_step"]) == 1 and summary["dead_group_share"] is not None
    assert summary["config"]["envs"] == "planted_subset_sum,countdown" and summary["pool"]["origins"] == {"seed": 2}
    # The curriculum's statistics and the held-out curve are in TensorBoard beside TRL's metrics.
    scalars = tensorboard_scalars(first)
    step_one = json.loads((first / "curriculum.jsonl").read_text().splitlines()[0])
    assert scalars["train/curriculum/dead_share"] == [(1, pytest.approx(step_one["dead_share"]))]
    assert scalars["train/curriculum/countdown/level"] == [(1, pytest.approx(step_one["envs"]["countdown"]["level"]))]
    assert [s for s, _ in scalars["eval/countdown/level_0.5"]] == [0, 1] and "train/loss" in scalars
    saved = json.loads((first / "checkpoint-1" / "curriculum.json").read_text())

    # A copy resumed (the shared run stays as it was for the other tests).
    out = tmp_path / "run"
    shutil.copytree(first, out)
    # As if the first run had logged step 2 and been killed before checkpointing it, mid-line.
    with (out / "curriculum.jsonl").open("a") as log:
        log.write(json.dumps({**step_one, "global_step": 2, "stale": True}) + '\n{"global_st')
    common = ["train", *cli_train_run.options, "--out", str(out)]
    # Resumed with W&B (offline: files only) as the logger this time.
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert main([*common, "--steps", "2", "--eval-seeds", "1", "--resume", "--report-to", "wandb"]) == 0
    final = json.loads((out / "final" / "curriculum.json").read_text())
    assert saved["step"] == 1 and final["step"] == 2
    resumed = json.loads((out / "eval.json").read_text())
    assert resumed["warmup"] == summary["warmup"]  # not warmed up again: the first run's warm-up, read back
    assert resumed["eval"]["warmup"] == {}  # its held-out rates used 2 seeds, this run 1: not comparable
    # One more step, logged after the first run's: it picked up at checkpoint-1 (a fresh start would log 1, 2 again).
    # The stale step 2 and the torn line are gone, and the summary covers the whole run.
    log_steps = [json.loads(line) for line in (out / "curriculum.jsonl").read_text().splitlines()]
    assert [step["global_step"] for step in log_steps] == [1, 2] and not any("stale" in step for step in log_steps)
    assert final["next_group"] > saved["next_group"]
    assert resumed["dead_group_share_per_step"] == [step["dead_share"] for step in log_steps]
    (run_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    logged = run_file.read_bytes()
    assert b"curriculum/dead_share" in logged and b"curriculum/countdown/level" in logged
    assert b"eval/countdown/level_0.25/after" in logged  # the held-out rates in the run's summary

    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "empty"), "--resume", "--envs", "countdown"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--envs", "no_such_env"]) == 2
    assert "unknown environment 'no_such_env'" in capsys.readouterr().err
    assert main(["train", "--report-to", "mlflow"]) == 2
    assert "--report-to must be one of none, tensorboard, wandb" in capsys.readouterr().err
    assert main(["train", "--eval-levels", "0,2"]) == 2
    assert "evaluation levels must be in [0, 1]" in capsys.readouterr().err
    assert main(["train", "--envs", "countdown", "--eval-envs", "sudokuu", "--eval-seeds", "1"]) == 2
    assert "unknown environment 'sudokuu'" in capsys.readouterr().err


def test_resuming_skips_a_checkpoint_killed_before_the_curriculum_was_saved(tmp_path):
    from envfoundry.train.run import last_checkpoint

    assert last_checkpoint(tmp_path) is None
    for step, files in ((1, ("trainer_state.json", "curriculum.json")), (2, ("trainer_state.json",)),
                        (10, ("trainer_state.json", "curriculum.json")), (11, ("curriculum.json",))):  # fmt: skip
        (tmp_path / f"checkpoint-{step}").mkdir()
        for name in files:
            (tmp_path / f"checkpoint-{step}" / name).write_text("{}")
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")  # 11 and 2 are incomplete; 10 > 2 as numbers
    assert last_checkpoint(tmp_path, needs=("trainer_state.json",)) == str(tmp_path / "checkpoint-10")
    (tmp_path / "checkpoint-12").mkdir()
    (tmp_path / "checkpoint-12" / "trainer_state.json").write_text("{}")
    assert last_checkpoint(tmp_path, needs=("trainer_state.json",)) == str(tmp_path / "checkpoint-12")
