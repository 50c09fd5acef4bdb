"""Held-out evaluation with a scripted chat model: rates, evidence, prompting, fixed held-out
instances, the JSON written, and the suites."""

from __future__ import annotations

import json
import random

import pytest

import envfoundry
from envfoundry import Environment, IntParam, Score, answer_instruction
from envfoundry.curriculum import TRAIN_SEED_BASE, Curriculum
from envfoundry.errors import InvalidInputError
from envfoundry.evaluate import RG_SUITE, evaluate_envs, held_out_seeds, resolve_suite, run_eval
from envfoundry.llm import LLMError
from envfoundry.train.grpo import SYSTEM_PROMPT
from envfoundry.train.warmup import WARMUP_SEED_BASE


class EchoNumber(Environment):
    """Repeat a long number (every prompt differs). Level 1 cannot be sampled: a broken setting."""

    name = "echo_number"
    asymmetry = "algorithmic"
    space = {"digits": IntParam(12, 16)}

    def generate(self, rng: random.Random, digits: int) -> dict:
        if digits == 16:
            raise ValueError("no numbers of 16 digits today")
        return {"value": str(rng.randrange(10 ** (digits - 1), 10**digits))}

    def prompt(self, state: dict) -> str:
        return f"Repeat {state['value']}. " + answer_instruction("123")

    def reference(self, state: dict) -> str:
        return state["value"]

    def verify(self, state: dict, answer: str) -> Score:
        if answer.strip() == "half":
            return Score(0.5, "half credit")
        right = answer.strip() == state["value"]
        return Score(float(right), "" if right else "wrong number")

    def complexity(self, state: dict) -> float:
        return float(len(state["value"]))


SEEDS = 8


def _by_prompt(envs, levels, seeds=SEEDS):
    """prompt -> (environment, level, seed, instance) for every held-out instance that can be sampled."""
    found = {}
    for name, env in envs.items():
        for level in levels:
            for seed in range(seeds):
                try:
                    instance = env.sample(seed, level=level)
                except ValueError:
                    continue
                found[instance.prompt] = (name, level, seed, instance)
    return found


def _scripted(scripted_chat, envs, levels):
    """Echo: by seed % 5 right, wrong, no answer block, half credit, a failed call; toy_sum: every call raises."""
    prompts = _by_prompt(envs, levels)

    def reply(messages):
        name, _, seed, instance = prompts[messages[-1]["content"]]
        if name == "toy_sum":
            raise RuntimeError("boom")
        kind = seed % 5
        if kind == 4:
            raise LLMError("the server is overloaded")
        return {0: f"Sure. <answer>{instance.reference}</answer>", 1: "<answer>0</answer>",
                2: f"It is {instance.reference}.", 3: "<answer>half</answer>"}[kind]  # fmt: skip

    return scripted_chat(reply)


def test_rates_per_environment_and_level_come_from_the_replies(scripted_chat, toy):
    envs = {"echo_number": EchoNumber(), "toy_sum": toy}
    levels = [0.0, 0.5, 1.0]
    model = _scripted(scripted_chat, envs, levels)
    result = evaluate_envs(model, envs, levels=levels, seeds=SEEDS, batch_size=3, progress=False)

    # seeds 0..7 by seed % 5: right 0,5; wrong 1,6; no block 2,7; half credit 3; failed call 4
    echo = result["results"]["echo_number"]
    assert list(echo) == ["0", "0.5", "1"]
    for level in ("0", "0.5"):
        cell = echo[level]
        assert {key: cell[key] for key in ("pass_rate", "format_rate", "mean_reward", "n", "errors")} == {
            "pass_rate": 2 / 8, "format_rate": 5 / 8, "mean_reward": 2.5 / 8, "n": 8, "errors": 1}  # fmt: skip
        # the first two failing replies, in seed order, with what was expected
        wrong, untagged = cell["examples"]
        assert (wrong["seed"], wrong["reply"], wrong["reason"]) == (1, "<answer>0</answer>", "wrong number")
        assert untagged["seed"] == 2 and untagged["reason"].startswith("no <answer>")
        assert untagged["reply"] == f"It is {untagged['reference']}." and len(untagged["reference"]) >= 12
    # level 1 cannot be sampled: every instance is an error and a failure, and the model never saw one
    assert echo["1"]["n"] == echo["1"]["errors"] == 8 and echo["1"]["pass_rate"] == 0.0
    assert echo["1"]["examples"][0]["reason"].startswith("sampling failed: ValueError: no numbers of 16 digits")
    # toy_sum: every call raised; counted, kept as evidence, never a crash
    for cell in result["results"]["toy_sum"].values():
        assert cell["errors"] == cell["n"] == 8 and cell["pass_rate"] == cell["format_rate"] == 0.0
        reason = cell["examples"][0]["reason"]
        assert reason.startswith("model call failed:") and "boom" in reason
    # overall: the mean over the six cells, each weighing the same
    assert result["pass_rate"] == pytest.approx((2 / 8 + 2 / 8) / 6)
    assert result["format_rate"] == pytest.approx((5 / 8 + 5 / 8) / 6)
    assert result["n"] == 48 and result["errors"] == 2 + 8 + 24
    assert len(model.seen) == 16 + 24  # every instance that could be sampled, once


class RecordingChat:
    """Wraps a scripted model and records each ``chat_many`` call's size and settings."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __call__(self, conversations, **settings):
        self.calls.append((len(conversations), settings))
        return type(self.inner).chat_many(self.inner, conversations, **settings)


def test_prompting_and_batching_match_training(scripted_chat):
    env = envfoundry.make("edit_distance")
    model = scripted_chat(lambda messages: "<answer>3</answer>")
    recorder = RecordingChat(model)
    model.chat_many = recorder
    evaluate_envs(model, {"edit_distance": env}, levels=[0.25, 0.75], seeds=5, max_tokens=32, batch_size=4,
                  progress=False)  # fmt: skip
    assert [size for size, _ in recorder.calls] == [4, 4, 2]  # 10 conversations in chunks of 4
    assert all(s == {"max_tokens": 32, "temperature": 0.0} for _, s in recorder.calls)  # greedy, as trained
    expected = {env.sample(seed, level=level).prompt for seed in range(5) for level in (0.25, 0.75)}
    assert all(len(c) == 2 and c[0] == {"role": "system", "content": SYSTEM_PROMPT} for c in model.seen)
    assert {c[1]["content"] for c in model.seen} == expected and all(c[1]["role"] == "user" for c in model.seen)


def test_held_out_instances_are_the_same_every_run_and_never_training_ones(scripted_chat):
    assert held_out_seeds(8) == range(8) and max(held_out_seeds(TRAIN_SEED_BASE)) < TRAIN_SEED_BASE < WARMUP_SEED_BASE
    with pytest.raises(InvalidInputError, match="at most 1,000,000"):
        held_out_seeds(TRAIN_SEED_BASE + 1)
    envs = {"knapsack": envfoundry.make("knapsack")}
    runs = []
    for _ in range(2):
        model = scripted_chat(lambda messages: "<answer>1</answer>")
        evaluate_envs(model, envs, levels=[1.0], seeds=6, progress=False)
        runs.append(sorted(c[1]["content"] for c in model.seen))
    assert runs[0] == runs[1] and len(set(runs[0])) == 6
    # a curriculum's training groups draw other seeds, hence other instances
    curriculum = Curriculum(envs, controller="fixed", controller_options={"fixed_level": 1.0}, group_size=2)
    training = [request.instance for request in curriculum.next_batch(4)]
    assert all(instance.seed >= TRAIN_SEED_BASE for instance in training)
    assert not {instance.prompt for instance in training} & set(runs[0])


@pytest.mark.parametrize(("settings", "message"), [
    ({"levels": [0.5, 1.5]}, r"levels must be numbers in \[0, 1\], got 0.5, 1.5"),
    ({"levels": []}, r"levels must be numbers in \[0, 1\], got none"),
    ({"seeds": 0}, "seeds must be a whole number of at least 1, got 0"),
    ({"seeds": True}, "seeds must be a whole number"),
    ({"max_tokens": 0}, "max_tokens must be at least 1"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
])  # fmt: skip
def test_bad_settings_are_one_sentence_before_any_call(scripted_chat, settings, message):
    model = scripted_chat(lambda messages: "")
    with pytest.raises(InvalidInputError, match=message):
        evaluate_envs(model, {"knapsack": envfoundry.make("knapsack")}, progress=False, **settings)
    with pytest.raises(InvalidInputError, match="no environments"):
        evaluate_envs(model, {}, progress=False)
    assert model.seen == []


REQUIRED = {"kind", "model", "backend", "suite", "envs", "levels", "seeds", "max_tokens", "results", "pass_rate",
            "format_rate", "seconds", "usage"}  # fmt: skip
CELL = {"pass_rate", "format_rate", "mean_reward", "reward_std", "n", "errors", "failures", "examples"}


def test_run_eval_returns_and_writes_the_fixed_format(scripted_chat, tmp_path):
    references = {prompt: instance.reference for prompt, (*_, instance) in
                  _by_prompt({n: envfoundry.make(n) for n in ("edit_distance", "knapsack")}, [0.0, 0.5], 3).items()}  # fmt: skip

    def reply(messages):  # edit distance right, knapsack without an answer block
        prompt = messages[-1]["content"]
        return f"<answer>{references[prompt]}</answer>" if "Levenshtein" in prompt else "I would rather not."

    class Counting(scripted_chat):
        def chat(self, messages, **settings):
            self.usage.add(requests=1, completion_tokens=2)
            return super().chat(messages, **settings)

    model = Counting(reply)
    model.usage.add(requests=100)  # an earlier job's: not this evaluation's cost
    out = tmp_path / "runs" / "eval.json"
    result = run_eval(model, suite="edit_distance,knapsack", levels=[0, 0.5], seeds=3, max_tokens=16,
                      out=out, progress=False)  # fmt: skip
    assert REQUIRED <= set(result) and json.loads(out.read_text()) == result
    assert list(tmp_path.joinpath("runs").iterdir()) == [out]  # no temporary file left behind
    assert (result["kind"], result["model"], result["backend"], result["suite"]) == (
        "eval", "scripted", "Counting", "edit_distance,knapsack")  # fmt: skip
    assert (result["envs"], result["levels"], result["seeds"], result["max_tokens"]) == (
        ["edit_distance", "knapsack"], [0.0, 0.5], 3, 16)  # fmt: skip
    assert set(result["results"]) == {"edit_distance", "knapsack"}
    for name, by_level in result["results"].items():
        assert list(by_level) == ["0", "0.5"] and all(set(cell) == CELL for cell in by_level.values())
        assert all(cell["pass_rate"] == (1.0 if name == "edit_distance" else 0.0) for cell in by_level.values())
    assert result["pass_rate"] == 0.5 and result["format_rate"] == 0.5
    example = result["results"]["knapsack"]["0"]["examples"][0]
    assert set(example) >= {"seed", "reply", "reason"} and example["reply"] == "I would rather not."
    assert (result["usage"]["requests"], result["usage"]["completion_tokens"]) == (12, 24)
    assert isinstance(result["seconds"], float) and model.usage.requests == 112


# ----- suites -------------------------------------------------------------------------------------
def test_rg_suite_is_vetted_and_outside_every_default_training_pool():
    pytest.importorskip("reasoning_gym")
    from envfoundry.adapters.reasoning_gym import DEFAULT_DATASETS, VETTING_FILE

    verdicts = json.loads(VETTING_FILE.read_text())["verdicts"]
    assert not set(RG_SUITE) & set(DEFAULT_DATASETS)  # `--envs reasoning-gym` never trains on them
    assert all(verdicts[name] is None for name in RG_SUITE)  # each passes the check battery
    with resolve_suite("rg") as pool:
        assert list(pool.envs) == [f"rg:{name}" for name in RG_SUITE]
        # prompts a small model's context holds, at the hardest level too
        assert max(len(env.sample(0, level=1.0).prompt) for env in pool.envs.values()) < 2_000


def test_suites_combine_with_pool_specs_and_unknown_items_are_named():
    from envfoundry.envs import seed_names

    with resolve_suite("seeds, knapsack,rg:chain_sum") as pool:
        assert list(pool.envs) == [*seed_names(), "rg:chain_sum"] and len(seed_names()) == 14
    with pytest.raises(InvalidInputError, match="unknown environment 'no_such_env'"):
        resolve_suite("seeds,no_such_env")
    with pytest.raises(InvalidInputError, match="the suite is empty"):
        resolve_suite(" , ")


def _env_source(name: str) -> str:
    return (f'from envfoundry import Environment, IntParam\n\n\nclass Env(Environment):\n    """An archived test '
            f'environment."""\n\n    name = "{name}"\n    asymmetry = "algorithmic"\n    space = {{"n": IntParam(1, 9)}}\n')  # fmt: skip


def test_converted_suite_takes_only_the_converters_environments(tmp_path):
    from envfoundry.archive import Archive

    root = tmp_path / "archive"
    passed = [{"name": stage, "passed": True, "skipped": False, "reason": "ok", "seconds": 0.0}
              for stage in ("static", "execution", "novelty")]  # fmt: skip
    with Archive(root) as archive:
        archive.record(_env_source("user_env"), reports=passed, admitted=True, env_name="user_env",
                       lineage={"mode": "user", "parents": []})  # fmt: skip
    with pytest.raises(InvalidInputError, match="holds no converted problems"):
        resolve_suite(f"converted:{root}")
    with Archive(root) as archive:
        archive.record(_env_source("humaneval_0_add"), reports=passed, admitted=True, env_name="humaneval_0_add",
                       lineage={"mode": "convert", "parents": ["HumanEval/0"], "dataset": "humaneval"})  # fmt: skip
    with resolve_suite(f"converted:{root}") as pool:
        assert list(pool.envs) == ["humaneval_0_add"] and not pool.envs["humaneval_0_add"].is_open  # nothing started
    with resolve_suite(f"archive:{root}") as pool:
        assert sorted(pool.envs) == ["humaneval_0_add", "user_env"]
    with pytest.raises(InvalidInputError, match="no archive at"):
        resolve_suite(f"converted:{tmp_path / 'nowhere'}")
