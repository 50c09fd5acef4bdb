"""Held-out evaluation: pass rates per environment and level from the replies a model generates."""

from __future__ import annotations

import pytest

import envfoundry

torch = pytest.importorskip("torch", reason="evaluation needs the train extra (pip install -e '.[train]')")


class ScriptedModel:
    """Stands in for the causal LM only: ``generate`` appends a scripted reply to each prompt."""

    def __init__(self, tokenizer, replies):
        self.tokenizer, self.replies, self.calls = tokenizer, replies, 0

    def parameters(self):
        yield torch.zeros(1)

    def generate(self, input_ids, attention_mask, max_new_tokens, do_sample, pad_token_id):
        assert not do_sample  # held-out evaluation is greedy
        self.calls += 1
        prompts = self.tokenizer.batch_decode(input_ids, skip_special_tokens=True)
        texts = [next(reply for prompt, reply in self.replies.items() if prompt in text) for text in prompts]
        out = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)["input_ids"]
        return torch.cat([input_ids, out], dim=1)


def test_pass_rates_per_environment_and_level_come_from_the_replies():
    from transformers import AutoTokenizer

    from envfoundry.llm.embedded import embedded_model_dir
    from envfoundry.train.run import evaluate

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    tokenizer.padding_side = "left"
    envs = {name: envfoundry.make(name) for name in ("countdown", "knapsack")}
    seeds, levels = range(4), [0.0, 0.5]
    replies = {}
    for name, env in envs.items():
        for level in levels:
            for seed in seeds:
                instance = env.sample(seed, level=level)
                # countdown: right at level 0, wrong at 0.5; knapsack: right for even seeds only.
                right = level == 0.0 if name == "countdown" else seed % 2 == 0
                replies[instance.prompt.strip()] = f"<answer>{instance.reference}</answer>" if right else "no idea"
    model = ScriptedModel(tokenizer, replies)
    rates = evaluate(model, tokenizer, envs, seeds, levels, max_new_tokens=8, batch_size=3)
    assert rates == {"countdown": {"0": 1.0, "0.5": 0.0}, "knapsack": {"0": 0.5, "0.5": 0.5}}
    assert model.calls == 2 * 2 * 2  # 4 seeds in batches of 3, per environment and level
