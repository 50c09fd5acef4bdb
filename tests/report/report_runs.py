"""Real runs of every kind for the report tests to build reports from (fixtures, one of each per session):

* a ``train`` run: the suite's shared one (a GRPO step on the embedded model after a one-step
  warm-up, with held-out evaluation at two levels);
* an archive: a ``synthesize`` run whose generator replays environment files of the synthesis test
  corpus (sound and broken, so there are admissions, rejections at several stages, a repair and a
  mutation), a solver that solves small instances of one environment (so calibration records a
  curve), and a ``convert`` run of one bundled problem;
* evaluation files in the format ``envfoundry eval`` writes, from real instances scored by the real
  environments, with replies that are right for some seeds and markup for others;
* an ``evolve`` run directory assembled from those parts, in the layout ``envfoundry evolve`` writes.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import envfoundry
from envfoundry.archive import Archive
from envfoundry.llm.base import ChatModel, Completion

CORPUS = Path(__file__).resolve().parents[1] / "synth" / "corpus"
EVAL_ENVS = ("edit_distance", "planted_subset_sum")
EVAL_LEVELS = (0.0, 0.5, 1.0)
# What a model might write: every reply string must reach the page escaped.
HOSTILE_REPLY = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2"> <b>bold</b>'


class ReplayGenerator(ChatModel):
    """A generator that replays corpus files: each new proposal gets the next of ``NEW`` (sound and
    broken files), a mutation gets a sound variant, a repair a sound file, a review accepts."""

    name = "replay"
    NEW = ("admitted_base_conversion", "static_import_os", "exec_wrong_reference", "admitted_interval_scheduling")

    def __init__(self) -> None:
        super().__init__()
        self.proposed = 0

    def chat(self, messages, **kwargs) -> Completion:
        prompt = messages[-1]["content"]
        if "VERDICT" in prompt:
            return Completion("Every check holds.\nVERDICT: ACCEPT", 1, 1, "stop")
        if "rejected by validation" in prompt:
            name = "admitted_modular_power"
        elif "Existing environment `" in prompt:
            name = "admitted_josephus_survivor"
        else:
            name = self.NEW[self.proposed % len(self.NEW)]
            self.proposed += 1
        return Completion(f"```python\n{(CORPUS / f'{name}.py').read_text()}\n```", 1, 1, "stop")


class SmallNumberSolver(ChatModel):
    """Converts numbers between bases when the number is below 2**20 and answers 0 otherwise, so
    base conversion's pass rate falls as the level rises; every other task gets 0."""

    name = "small-number-solver"
    QUESTION = re.compile(r"The number (\w+) is written in base (\d+)\. Write the same number in base (\d+)")

    def chat(self, messages, **kwargs) -> Completion:
        found = self.QUESTION.search(messages[-1]["content"])
        answer = "0"
        if found:
            value = int(found[1], int(found[2]))
            if value < 2**20:
                digits, base = "", int(found[3])
                while value:
                    value, digit = divmod(value, base)
                    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit] + digits
                answer = digits or "0"
        return Completion(f"<answer>{answer}</answer>", 1, 1, "stop")


@pytest.fixture(scope="session")
def train_run(cli_train_run) -> Path:
    """The suite's shared ``envfoundry train`` run (``tests/conftest.py``), read, never changed."""
    return cli_train_run.out


@pytest.fixture(scope="session")
def archive_run(tmp_path_factory) -> Path:
    from envfoundry.cli.main import main
    from envfoundry.synth.synthesize import synthesize

    root = tmp_path_factory.mktemp("archive") / "archive"
    with Archive(root) as archive:
        synthesize(ReplayGenerator(), archive, solver=SmallNumberSolver(), rounds=2, candidates=3, seed=3,
                   progress=False, context_options={"reviews": 3, "calibration_per_level": 4})  # fmt: skip
    assert main(["convert", "stdio", "--limit", "1", "--archive", str(root)]) == 0
    return root


def evaluation(correct_every: int, model: str = "scripted") -> dict:
    """An evaluation in ``envfoundry eval``'s format: real instances of ``EVAL_ENVS`` at
    ``EVAL_LEVELS``, scored by the environments; the reply is the reference for every
    ``correct_every``-th seed and markup for the rest."""
    seeds = 4
    results, scored = {}, []
    for name in EVAL_ENVS:
        env = envfoundry.make(name)
        results[name] = {}
        for level in EVAL_LEVELS:
            verdicts, examples = [], []
            for seed in range(seeds):
                instance = env.sample(seed, level=level)
                reply = f"<answer>{instance.reference}</answer>" if seed % correct_every == 0 else HOSTILE_REPLY
                verdict = env.score(instance, reply)
                verdicts.append(verdict)
                if not verdict.correct and len(examples) < 2:
                    examples.append({"seed": seed, "reply": reply, "reason": verdict.reason,
                                     "reference": instance.reference})  # fmt: skip
            results[name][f"{level:g}"] = {
                "pass_rate": sum(v.correct for v in verdicts) / seeds,
                "format_rate": sum(v.format_ok for v in verdicts) / seeds,
                "mean_reward": sum(v.reward for v in verdicts) / seeds, "n": seeds, "errors": 0, "examples": examples,
            }  # fmt: skip
            scored += verdicts
    return {
        "kind": "eval", "model": model, "backend": "embedded", "suite": ",".join(EVAL_ENVS), "envs": list(EVAL_ENVS),
        "levels": list(EVAL_LEVELS), "seeds": seeds, "max_tokens": 64, "batch_size": 16, "results": results,
        "pass_rate": sum(v.correct for v in scored) / len(scored),
        "format_rate": sum(v.format_ok for v in scored) / len(scored),
        "mean_reward": sum(v.reward for v in scored) / len(scored), "n": len(scored), "errors": 0,
        "seconds": 1.5, "usage": {"prompt_tokens": 0, "completion_tokens": 0},
    }  # fmt: skip


@pytest.fixture(scope="session")
def eval_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "eval.json"
    path.write_text(json.dumps(evaluation(correct_every=2), indent=2))
    return path


@pytest.fixture(scope="session")
def evolve_run(tmp_path_factory, train_run, archive_run) -> Path:
    """Two stages: the archive's synthesis run is stage 1's, its convert run stage 2's; both stages
    trained as the train run did; held-out evaluations improve from stage to stage."""
    root = tmp_path_factory.mktemp("evolve") / "run"
    shutil.copytree(archive_run, root / "archive")
    with Archive(root / "archive") as archive:
        runs = sorted(archive.runs(), key=lambda run: run["started_at"])
        synthesis = [{"run_id": run["id"], "outcomes": (run["summary"] or {}).get("outcomes", {}),
                      "funnel": archive.funnel(run["id"])} for run in runs]  # fmt: skip
    train_summary = json.loads((train_run / "eval.json").read_text())
    stages, evals = [], []
    for index in range(3):
        evals.append(f"eval/stage-{index}.json")
        (root / "eval").mkdir(parents=True, exist_ok=True)
        (root / evals[-1]).write_text(json.dumps(evaluation(correct_every=4 - index, model=f"stage-{index}")))
    for stage in (1, 2):
        shutil.copytree(train_run, root / f"stage-{stage}" / "train",
                        ignore=shutil.ignore_patterns("*.safetensors", "*.pt", "*.pth", "*.bin"))  # fmt: skip
        funnel = synthesis[stage - 1]["funnel"]
        stages.append({
            "stage": stage, "synthesis": synthesis[stage - 1],
            "generator": {"proposals": funnel["candidates"], "admitted": funnel["admitted"],
                          "mean_reward": funnel["admitted"] / max(1, funnel["candidates"]), "rewards": []},
            "train": f"stage-{stage}/train", "eval": evals[stage],
            "seconds": {"synthesis": 10.0 * stage, "train": 20.0, "eval": 5.0},
            "pass_rate": json.loads((root / evals[stage]).read_text())["pass_rate"],
            "dead_group_share": train_summary["dead_group_share"],
        })  # fmt: skip
    (root / "evolve.json").write_text(json.dumps({
        "kind": "evolve", "config": {"policy": "embedded", "generator": "replay", "stages": 2},
        "stages_done": 2, "eval": evals, "stages": stages,
    }, indent=2))  # fmt: skip
    return root
