"""Which system prompt? Held-out pass rate and answer-block rate of the embedded model under a few
system prompts, before and after the format warm-up, on the same instances.

    python benchmarks/prompting.py [--warmed runs/bench_learning/warmup] [--envs A,B] [--eval-seeds 16]

``--warmed`` is a warm-up checkpoint (``envfoundry warmup --out DIR``); without it only the base
model is measured. The one-shot variant puts an example exchange before the task.
"""

from __future__ import annotations

import argparse
import sys

from envfoundry.curriculum import build_pool
from envfoundry.train.grpo import SYSTEM_PROMPT
from envfoundry.train.run import load_model
from results_json import write_results

ENVS = "edit_distance,longest_increasing_subsequence,planted_subset_sum,rg:chain_sum"
ONE_SHOT = [
    {"role": "user", "content": "What is 7 + 5? Give your final answer inside <answer></answer> tags."},
    {"role": "assistant", "content": "7 + 5 = 12\n<answer>12</answer>"},
]
VARIANTS = {
    "default": (SYSTEM_PROMPT, []),
    "one-shot": (SYSTEM_PROMPT, ONE_SHOT),
    "no system prompt": (None, []),
}


def measure(model, tokenizer, envs, seeds, level, max_new_tokens, system, shots) -> dict[str, dict[str, float]]:
    import torch

    results = {}
    for name, env in envs.items():
        instances = [env.sample(seed, level=level) for seed in seeds]
        prefix = ([{"role": "system", "content": system}] if system else []) + shots
        texts = [tokenizer.apply_chat_template(prefix + [{"role": "user", "content": i.prompt}], tokenize=False,
                                               add_generation_prompt=True) for i in instances]  # fmt: skip
        encoded = tokenizer(texts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            output = model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)  # fmt: skip
        replies = tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
        verdicts = env.score_many(instances, replies)
        results[name] = {"pass_rate": sum(v.correct for v in verdicts) / len(verdicts),
                         "format_rate": sum(v.format_ok for v in verdicts) / len(verdicts)}  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", default=ENVS)
    parser.add_argument("--warmed", default=None, help="a warm-up checkpoint directory to measure as well")
    parser.add_argument("--eval-seeds", type=int, default=16)
    parser.add_argument("--level", type=float, default=0.0)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--out", default="benchmarks/results/prompting.json")
    args = parser.parse_args(argv)
    models = {"base": "embedded"} | ({"warmed-up": args.warmed} if args.warmed else {})
    table = {}
    with build_pool(args.envs) as pool:
        for label, spec in models.items():
            model, tokenizer = load_model(spec)
            for variant, (system, shots) in VARIANTS.items():
                table[f"{label} / {variant}"] = measure(model, tokenizer, pool.envs, range(args.eval_seeds), args.level,
                                                        args.max_new_tokens, system, shots)  # fmt: skip
    names = list(next(iter(table.values())))
    print(f"pass rate (answer-block rate), {args.eval_seeds} held-out instances at level {args.level:g}")
    print(f"{'':<30}" + "".join(f"{name[:18]:>20}" for name in names))
    for row, results in table.items():
        print(f"{row:<30}" + "".join(f"{results[n]['pass_rate']:>11.0%} ({results[n]['format_rate']:>4.0%})"
                                     for n in names))  # fmt: skip
    write_results(args.out, "prompting", {"args": vars(args), "results": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
