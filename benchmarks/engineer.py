"""The environment engineer on MAPF-FrozenLake: every arm in the same harness, on the same budget,
one run each. Arms: the current checkpoint as the engineer (``policy``), the starting model as the
engineer (``base``), the baselines (``fixed``, ``heuristic``, ``random``, ``scaler``) and the
checkpoint engineer without failure evidence, statistics or the previous configuration. Prints per
arm: the final validation pass rate (fixed configurations, the same for every arm), the pass rate
on its own configuration and the dead-group share per stage, and how many proposals were rejected
(the previous configuration stood) or repaired.

    python benchmarks/engineer.py [--arms fixed,heuristic,...] [--stages 3] [--steps-per-stage 2]
                                  [--engineer URL --engineer-model M] [--warmup-steps 8 | --policy DIR]
                                  [--eval-seeds 4] [--validation-seeds 8] [--engineer-max-tokens 128]
                                  [--run-dir runs/bench_engineer] [--out benchmarks/results/engineer.json]

The policy is the embedded SmolLM2-135M after a short format warm-up on MAPF-FrozenLake's own
references (shared by every arm; without it the model writes no answer block and every group is
dead; ``--policy DIR`` starts from a checkpoint instead). Stage 1 is the same for every arm (same policy, configuration and seeds), so it is trained
and evaluated once and shared (hard links): the arms differ from their first proposal on.
``--engineer URL`` makes a served model the engineer of the model arms (``server`` and its
ablations) in place of the checkpoint. Each arm's run directory (``RUN_DIR/ARM``) is an engineer
run: ``envfoundry report RUN_DIR/ARM`` draws it; its weights are removed after the arm unless
``--keep-weights``. The results file is rewritten after every arm, so a run cut short keeps the
arms it finished; ``--resume`` continues such a run (each arm is an engineer run: ``--resume``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from envfoundry.engineer import EngineerConfig, run_engineer
from envfoundry.train.run import warm_up
from envfoundry.train.warmup import WarmupConfig
from results_json import write_results

# Small enough for a few minutes an arm on 2 CPU cores: a MAPF-FrozenLake prompt is about 550
# tokens, so a GRPO step of 4 completions costs about as much as 20 of edit_distance's.
SETTINGS = {"env": "mapf_frozenlake", "group_size": 4, "groups_per_step": 1, "max_completion_length": 48,
            "eval_seeds": 4, "validation_levels": (0.0,), "validation_seeds": 8, "engineer_max_tokens": 128,
            "batch_size": 16}  # fmt: skip
BASELINES = ("fixed", "heuristic", "random", "scaler")
ABLATIONS = ("failures", "statistics", "previous")


def arms(engineer: str | None) -> dict[str, dict[str, Any]]:
    """Arm name -> its engineer settings; a served engineer replaces the checkpoint in the model arms."""
    model = {"engineer": engineer} if engineer else {"engineer": "policy"}
    name = "server" if engineer else "policy"
    out = {arm: {"engineer": arm} for arm in BASELINES}
    out[name] = model
    out["base"] = {"engineer": "base"}
    out.update({f"{name}-no-{part}": {**model, "ablate": [part]} for part in ABLATIONS})
    return out


def share_stage_one(shared: Path, out: Path) -> None:
    """``shared``'s stage 1 (training and evaluation) into the arm's run directory, as hard links."""
    shutil.copytree(shared / "stage-1", out / "stage-1", copy_function=os.link)


def row(arm: str, state: dict[str, Any]) -> dict[str, Any]:
    """The arm's figures; ``seconds`` is what its own stages cost (stage 1's training and evaluation
    are shared, so its record holds the engineer's time only)."""
    stages = state["stages"]
    current = [next(c for c in r["summary"]["cells"] if c["cell"] == "current") for r in stages]
    outcomes = [r["engineer"]["outcome"] for r in stages]
    return {
        "arm": arm, "engineer": state["engineer"], "ablate": state["ablate"],
        "validation_pass_rate": [r["summary"]["validation"]["pass_rate"] for r in stages],
        "pass_rate": [cell["pass_rate"] for cell in current],
        "failures": [cell["failures"] for cell in current],
        "dead_group_share": [r["summary"]["training"]["dead_group_share"] for r in stages],
        "rejected": outcomes.count("rejected"), "repaired": outcomes.count("repaired"), "outcomes": outcomes,
        "configs": [r["config"] for r in stages], "next_config": stages[-1]["next_config"],
        "diffs": [r["diff"] for r in stages], "rationales": [r["engineer"]["rationale"] for r in stages],
        "seconds": round(sum(sum(r["seconds"].values()) for r in stages), 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default=None, help="comma-separated arm names (default: all)")
    parser.add_argument("--stages", type=int, default=3)
    parser.add_argument("--steps-per-stage", type=int, default=2)
    parser.add_argument("--warmup-steps", type=int, default=8, help="shared format warm-up steps (0: none)")
    parser.add_argument("--policy", default=None, help="start every arm from this checkpoint (no warm-up)")
    parser.add_argument("--eval-seeds", type=int, default=SETTINGS["eval_seeds"], help="held-out instances per cell")
    parser.add_argument("--validation-seeds", type=int, default=SETTINGS["validation_seeds"])
    parser.add_argument("--engineer-max-tokens", type=int, default=SETTINGS["engineer_max_tokens"])
    parser.add_argument("--engineer", default=None, help="an OpenAI-compatible URL for the model arms")
    parser.add_argument("--engineer-model", default=None, help="the model id at that server")
    parser.add_argument("--run-dir", default="runs/bench_engineer")
    parser.add_argument("--keep-weights", action="store_true", help="keep each arm's stage policies")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir where it stopped")
    parser.add_argument("--out", default="benchmarks/results/engineer.json")
    args = parser.parse_args(argv)
    every = arms(args.engineer)
    chosen = args.arms.split(",") if args.arms else list(every)
    unknown = [arm for arm in chosen if arm not in every]
    if unknown:
        parser.error(f"unknown arm {unknown[0]!r}; the arms are {', '.join(every)}")
    root = Path(args.run_dir)
    if not args.resume:
        shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    policy = args.policy or "embedded"
    if args.warmup_steps and not args.policy and not (root / "warmup" / "warmup.json").is_file():
        print(f"format warm-up: {args.warmup_steps} steps on MAPF-FrozenLake's references (shared by every arm)")
        warm_up(model="embedded", envs="mapf_frozenlake", out=str(root / "warmup"), eval_seeds=0,
                config=WarmupConfig(steps=args.warmup_steps, batch_size=4, max_length=768, learning_rate=1e-4))  # fmt: skip
    if args.warmup_steps and not args.policy:
        policy = str(root / "warmup")
    warmup_seconds = time.perf_counter() - started
    common = {**SETTINGS, "stages": args.stages, "steps_per_stage": args.steps_per_stage, "policy": policy,
              "engineer_model": args.engineer_model, "eval_seeds": args.eval_seeds,
              "validation_seeds": args.validation_seeds, "engineer_max_tokens": args.engineer_max_tokens}  # fmt: skip
    print("stage 1, shared by every arm: training and evaluation")
    shared = root / "shared"
    first = run_engineer(EngineerConfig(**{**common, "stages": 1}, engineer="fixed", out=str(shared),
                                        resume=(shared / "engineer.json").is_file()))  # fmt: skip
    start = first["stages"][0]
    settings = {**common, "validation_levels": list(SETTINGS["validation_levels"]),
                "warmup_steps": 0 if args.policy else args.warmup_steps}  # fmt: skip
    rows = []
    for arm in chosen:
        print(f"\narm {arm}")
        out = root / arm
        resume = (out / "engineer.json").is_file()
        if not resume:
            share_stage_one(shared, out)
        state = run_engineer(EngineerConfig(**common, **every[arm], out=str(out), resume=resume))
        rows.append(row(arm, state))
        if not args.keep_weights:
            for weights in out.glob("stage-*/train/final/*.safetensors"):
                weights.unlink()
        write_results(args.out, "engineer", {"settings": settings, "start": start["config"],
                                             "validation_after_stage_1": start["summary"]["validation"]["pass_rate"],
                                             "arms": rows, "seconds": round(time.perf_counter() - started, 1),
                                             "warmup_seconds": round(warmup_seconds, 1)})  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"\nMAPF-FrozenLake from {start['config']}; {args.stages} stages x {args.steps_per_stage} GRPO step(s) of "
          f"{SETTINGS['groups_per_step']} group(s) of {SETTINGS['group_size']}; validation: level(s) "
          f"{', '.join(map(str, SETTINGS['validation_levels']))}, {args.validation_seeds} instances; after the "
          f"shared stage 1: {start['summary']['validation']['pass_rate']:.0%}")  # fmt: skip
    print(f"{'arm':<22} {'final valid.':>12} {'pass rate per stage':>22} {'dead groups per stage':>24} "
          f"{'rejected':>8} {'repaired':>8} {'seconds':>8}")  # fmt: skip
    for r in rows:
        rates = " ".join(f"{rate:.0%}" for rate in r["pass_rate"])
        dead = " ".join("-" if share is None else f"{share:.0%}" for share in r["dead_group_share"])
        print(f"{r['arm']:<22} {r['validation_pass_rate'][-1]:>12.0%} {rates:>22} {dead:>24} {r['rejected']:>8} "
              f"{r['repaired']:>8} {r['seconds']:>8.0f}")  # fmt: skip
    shared_seconds = sum(start["seconds"].values())
    print(f"{seconds:.0f} s in all ({warmup_seconds:.0f} s warm-up, {shared_seconds:.0f} s for the shared stage 1); "
          "final configurations:")  # fmt: skip
    for r in rows:
        print(f"  {r['arm']:<22} {r['next_config']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
