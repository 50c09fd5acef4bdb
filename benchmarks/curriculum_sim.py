"""Simulated learners under fixed, SCALER and RLVE difficulty control: dead groups and skill gained.

Each of the seed environments gets a simulated learner with a skill s in [0, 1] and a known
pass-rate curve over level, p(level) = sigmoid(k (s - level)). A GRPO group of ``--group-size``
rollouts at a level draws Bernoulli(p) rewards; the skill grows with the useful signal in the
group (its reward standard deviation, which is 0 for a dead group: all rewards equal). The same
rollout budget runs under each controller through the real ``Curriculum`` (real instances are
sampled; only the learner is simulated). Figures are from one run with fixed seeds.

How steep the pass-rate curve is decides how many groups near a given accuracy are dead, so the
comparison runs at several steepnesses (``--slopes``; 10 means one difficulty step of the
controllers, a tenth of the level range, moves the pass rate's logit by 1).

    python benchmarks/curriculum_sim.py [--rollouts 40000] [--slopes 5,10,20]
        [--out benchmarks/results/curriculum_sim.json]

Goal (issue: curriculum): adaptive control has at most 1/3 the dead groups of fixed difficulty.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys

from tqdm import tqdm

import envfoundry
from envfoundry.curriculum import Curriculum
from envfoundry.envs import seed_names
from results_json import write_results

LEARNING_RATE = 0.004  # skill gained per unit of group reward spread


def simulate(controller: str, rollouts: int, group_size: int, groups_per_step: int, seed: int, slope: float) -> dict:
    names = seed_names()
    rng = random.Random(seed)
    skill = {name: rng.uniform(0.05, 0.35) for name in names}
    start = dict(skill)
    options = {"fixed": {"fixed_level": 0.5}, "scaler": {}, "rlve": {"min_rollouts": 8 * group_size}}[controller]
    curriculum = Curriculum({n: envfoundry.make(n) for n in names}, controller=controller,
                            controller_options=options, group_size=group_size, seed=seed)  # fmt: skip
    dead = groups = used = 0
    while used < rollouts:
        for request in curriculum.next_batch(groups_per_step):
            p = 1 / (1 + math.exp(-slope * (skill[request.env] - request.level)))
            rewards = [1.0 if rng.random() < p else 0.0 for _ in range(group_size)]
            spread = statistics.pstdev(rewards)
            skill[request.env] = min(1.0, skill[request.env] + LEARNING_RATE * spread)
            dead += spread == 0
            groups += 1
            used += group_size
            curriculum.report(request.group_id, rewards)
        curriculum.end_step()
    gained = sum(skill[n] - start[n] for n in names)
    return {
        "controller": controller,
        "slope": slope,
        "rollouts": used,
        "groups": groups,
        "dead_share": dead / groups,
        "skill_gained_per_1000_rollouts": gained / used * 1000,
        "final_mean_skill": statistics.fmean(skill.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=40_000)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--groups-per-step", type=int, default=28)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slopes", default="5,10,20", help="steepnesses of the learners' pass-rate curves")
    parser.add_argument("--out", default="benchmarks/results/curriculum_sim.json")
    args = parser.parse_args(argv)
    slopes = [float(x) for x in args.slopes.split(",")]
    work = [(slope, kind) for slope in slopes for kind in ("fixed", "scaler", "rlve")]
    rows = [simulate(kind, args.rollouts, args.group_size, args.groups_per_step, args.seed, slope)
            for slope, kind in tqdm(work, desc="slope x controller", leave=False)]  # fmt: skip
    print(f"{'slope':>6}  {'controller':<10}{'rollouts':>10}{'dead groups':>13}{'vs fixed':>10}"
          f"{'skill / 1k rollouts':>21}{'final skill':>13}")  # fmt: skip
    ratios: dict[str, dict[str, float]] = {}
    for row in rows:
        fixed = next(r["dead_share"] for r in rows if r["slope"] == row["slope"] and r["controller"] == "fixed")
        ratio = row["dead_share"] / fixed if fixed else 0.0
        if row["controller"] != "fixed":
            ratios.setdefault(f"{row['slope']:g}", {})[row["controller"]] = ratio
        print(f"{row['slope']:>6g}  {row['controller']:<10}{row['rollouts']:>10}{row['dead_share']:>13.1%}"
              f"{ratio:>9.2f}x{row['skill_gained_per_1000_rollouts']:>21.4f}{row['final_mean_skill']:>13.3f}")  # fmt: skip
    goal = {kind: all(r[kind] <= 1 / 3 for r in ratios.values()) for kind in ("scaler", "rlve")}
    print("dead-group share <= 0.33x fixed at every slope: " + ", ".join(f"{k} {'met' if v else 'not met'}"
                                                                         for k, v in goal.items()))  # fmt: skip
    write_results(args.out, "curriculum_sim", {"args": vars(args), "rows": rows, "dead_share_vs_fixed": ratios,
                                               "goal_met": goal})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
