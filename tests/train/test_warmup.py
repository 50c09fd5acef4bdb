"""The format warm-up: its data (correct targets, never a held-out prompt) and a real SFT run whose
checkpoint GRPO continues from."""

from __future__ import annotations

import json

import pytest

import envfoundry
from envfoundry.core.answer import extract_answer
from envfoundry.curriculum import TRAIN_SEED_BASE
from envfoundry.train.warmup import WARMUP_SEED_BASE, WarmupConfig, held_out_prompts, target_text, warmup_rows

SYSTEM = "Answer inside <answer></answer>."


def test_every_warmup_target_is_a_correct_response_with_the_reference_in_the_answer_block():
    envs = {name: envfoundry.make(name) for name in ("expression_eval", "planted_subset_sum", "edit_distance",
                                                     "rg:chain_sum")}  # fmt: skip
    for name, env in envs.items():
        for seed in range(20):
            instance = env.sample(WARMUP_SEED_BASE + seed, level=seed / 19)
            target = target_text(env, instance)
            assert env.score(instance, target).correct, (name, target)
            assert extract_answer(target) == instance.reference


def test_worked_solutions_end_on_the_value_the_answer_states():
    expression, subset = envfoundry.make("expression_eval"), envfoundry.make("planted_subset_sum")
    for seed in range(30):
        instance = expression.sample(seed, level=0.6)
        steps = expression.worked_solution(instance.state).splitlines()
        assert steps[-1].endswith(f"= {instance.reference}")
        assert len(steps) == 1 + instance.state["expression"].count("(")  # one step per parenthesised part
        instance = subset.sample(seed, level=0.3)
        worked = subset.worked_solution(instance.state)
        assert worked == f"{instance.reference.replace(' ', ' + ')} = {instance.state['target']}"
    assert envfoundry.make("knapsack").worked_solution({}) is None  # the default: no worked solution


def test_warmup_rows_skip_held_out_prompts_mix_environments_and_stay_at_low_levels():
    envs = {env.name: env for env in map(envfoundry.make, ("rg:chain_sum", "edit_distance"))}
    held_out = held_out_prompts(envs, range(16), [0.0])
    rows = warmup_rows(envs, 24, 0.1, SYSTEM, exclude_prompts=held_out)
    assert rows == warmup_rows(envs, 24, 0.1, SYSTEM, exclude_prompts=held_out)  # deterministic
    assert len(rows) == 48 and [row["env"] for row in rows[:4]] == ["rg:chain_sum", "edit_distance"] * 2
    assert not {row["prompt"][1]["content"] for row in rows} & held_out
    # Level 0 of chain_sum has few distinct questions (two one-digit terms): held-out ones really were in the way.
    unfiltered = warmup_rows(envs, 24, 0.1, SYSTEM)
    assert {row["prompt"][1]["content"] for row in unfiltered} & held_out
    assert all(row["prompt"][0] == {"role": "system", "content": SYSTEM} for row in rows)
    assert max(row["level"] for row in rows) == 0.1 and min(row["level"] for row in rows) == 0.0
    assert WARMUP_SEED_BASE > TRAIN_SEED_BASE  # GRPO's seeds count up from TRAIN_SEED_BASE, held-out ones below it


def test_bad_warmup_settings_are_one_clear_error():
    with pytest.raises(ValueError, match="max level must be in"):
        WarmupConfig(max_level=2)
    with pytest.raises(ValueError, match="steps and batch size must be at least 1"):
        WarmupConfig(steps=0)


def test_warmup_command_fine_tunes_and_train_continues_from_its_checkpoint(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason="the warm-up needs the train extra (pip install -e '.[train]')")
    from safetensors.torch import load_file

    from envfoundry.cli.main import main
    from envfoundry.llm.embedded import embedded_model_dir

    out = tmp_path / "warm"
    assert main(["warmup", "--envs", "planted_subset_sum,rg:chain_sum", "--steps", "2", "--batch-size", "2",
                 "--learning-rate", "1e-4", "--eval-seeds", "2", "--eval-levels", "0", "--max-completion-length", "8",
                 "--out", str(out)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "warm-up: 2 steps, 4 examples" in printed and "envfoundry train --model " + str(out) in printed
    summary = json.loads((out / "warmup.json").read_text())
    assert summary["examples"] == {"planted_subset_sum": 2, "rg:chain_sum": 2}
    evaluation = summary["eval"]
    for rates in (evaluation["before"], evaluation["after"], evaluation["format_before"], evaluation["format_after"]):
        assert rates.keys() == {"planted_subset_sum", "rg:chain_sum"} and all(r.keys() == {"0"} for r in rates.values())
    base = load_file(embedded_model_dir() / "model.safetensors")
    tuned = load_file(out / "model.safetensors")
    assert any(not torch.equal(base[name], tuned[name]) for name in tuned), "the warm-up changed no weight"

    # GRPO from the warm-up's checkpoint; rg:leg_counting is evaluated but outside the pool: never trained on.
    assert main(["train", "--model", str(out), "--envs", "planted_subset_sum", "--steps", "1", "--eval-seeds", "1",
                 "--eval-levels", "0", "--eval-envs", "planted_subset_sum,rg:leg_counting", "--group-size", "2", "--groups", "1",
                 "--max-completion-length", "8", "--out", str(tmp_path / "grpo")]) == 0  # fmt: skip
    trained = json.loads((tmp_path / "grpo" / "eval.json").read_text())
    assert trained["config"]["model"] == str(out) and trained["pool"]["size"] == 1
    assert trained["eval"]["after"].keys() == {"planted_subset_sum", "rg:leg_counting"}

    capsys.readouterr()
    assert main(["warmup", "--max-level", "3", "--out", str(tmp_path / "x")]) == 2
    assert "warm-up max level must be in [0, 1], got 3.0" in capsys.readouterr().err
    assert main(["train", "--model", str(tmp_path / "missing.gguf")]) == 2
    assert "no GGUF file at" in capsys.readouterr().err
    assert main(["train", "--warmup-steps", "-1"]) == 2
    assert "warmup_steps must be 0 or more" in capsys.readouterr().err


def test_a_gguf_file_is_read_by_load_gguf_and_made_ready_to_train(monkeypatch, tmp_path):
    # load_gguf itself (dequantise, drop the quantizer) is what the embedded model's conversion runs,
    # with its weights checked in tests/llm/test_embedded.py; dequantising the 135M GGUF costs 20-40 s
    # on 2 cores, so here it reads the converted checkpoint: what is checked is the route and the setup.
    pytest.importorskip("torch", reason="loading a model needs the train extra (pip install -e '.[train]')")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from envfoundry.llm import embedded
    from envfoundry.train.run import load_model

    converted, read = embedded.embedded_model_dir(), []

    def load_gguf(path):
        read.append(str(path))
        tokenizer = AutoTokenizer.from_pretrained(converted)
        tokenizer.padding_side, tokenizer.pad_token = "right", None
        return AutoModelForCausalLM.from_pretrained(converted), tokenizer

    monkeypatch.setattr(embedded, "load_gguf", load_gguf)
    gguf = tmp_path / "policy.GGUF"
    gguf.write_bytes(b"GGUF")
    model, tokenizer = load_model(str(gguf))
    assert read == [str(gguf)] and model.config.model_type == "llama"
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == tokenizer.eos_token
