"""The reward function TRL calls: environment scores per completion, every group reported once."""

from __future__ import annotations

import json
from pathlib import Path

from envfoundry.curriculum import Curriculum, build_pool
from envfoundry.train.grpo import CurriculumReward, curriculum_metrics, resume_step_log

SANDBOXED = Path(__file__).parents[1] / "synth" / "corpus" / "admitted_modular_power.py"


def test_rewards_come_from_each_environment_and_every_group_is_reported_once():
    with build_pool(["countdown", str(SANDBOXED)]) as pool:
        assert pool.envs["modular_power"].origin == "file"  # scored in the sandbox
        curriculum = Curriculum(pool.envs, group_size=3, seed=0)
        batch = curriculum.next_batch(4)
        rows = [r for r in batch for _ in range(3)]  # TRL repeats each row group_size times
        # Per group: the reference (right), a wrong answer, no answer block at all.
        completions = []
        for request in batch:
            reference = request.instance.reference
            completions += [[{"role": "assistant", "content": f"<answer>{reference}</answer>"}],
                            [{"role": "assistant", "content": "<answer>-1</answer>"}],
                            [{"role": "assistant", "content": "I am not sure."}]]  # fmt: skip
        reward = CurriculumReward(curriculum, format_weight=0.25)
        kwargs = {"instance": [r.instance.to_json() for r in rows], "env": [r.env for r in rows],
                  "group_id": [r.group_id for r in rows]}  # fmt: skip
        rewards = reward(prompts=[None] * len(rows), completions=completions, **kwargs)
        assert rewards[0::3] == [1.25] * 4  # full reward plus the format bonus
        assert all(0.25 <= r < 1.25 for r in rewards[1::3]) and rewards[2::3] == [0.0] * 4
        assert reward.groups_reported == 4 and not any(curriculum.awaiting(r.group_id) for r in batch)
        reward(prompts=[None] * len(rows), completions=completions, **kwargs)  # a second pass over the same batch
        assert reward.groups_reported == 4
        stats = curriculum.end_step()
        assert stats["groups"] == 4 and stats["dead_groups"] == 0
        assert all(env["accuracy"] == 1 / 3 for env in stats["envs"].values())
        metrics = curriculum_metrics(stats)
        assert metrics["curriculum/dead_share"] == 0.0 and metrics["curriculum/modular_power/accuracy"] == 1 / 3


def test_a_resumed_step_log_keeps_each_step_up_to_the_checkpoint_once(tmp_path):
    log = tmp_path / "curriculum.jsonl"
    # Steps 1-3 by a first run, 2-3 again by a resume from checkpoint 1 (as logs written before
    # this was mended hold), then step 4 and a line torn by a kill.
    lines = [{"global_step": n, "run": 1} for n in (1, 2, 3)] + [{"global_step": n, "run": 2} for n in (2, 3, 4)]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"global_step": 5, "ru')
    kept = resume_step_log(log, last_step=3)
    assert kept == [{"global_step": 1, "run": 1}, {"global_step": 2, "run": 2}, {"global_step": 3, "run": 2}]
    assert [json.loads(line) for line in log.read_text().splitlines()] == kept
    assert resume_step_log(tmp_path / "missing.jsonl", last_step=3) == []  # a run killed before its first step
