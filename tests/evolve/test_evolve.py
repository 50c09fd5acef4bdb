"""The self-evolving loop: the generator's reward, and whole stages on the embedded policy with a
generator that replays environment code written for the tests (sound and broken): admission,
rejection, training on what was admitted, held-out evaluation, GRPO on the generator role, and
resumption after a kill mid-synthesis and mid-training."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envfoundry.archive import Archive
from envfoundry.errors import InvalidInputError
from envfoundry.evolve import EvolveConfig, evolve, generator_reward, load_config

pytest.importorskip("trl", reason="evolve trains with TRL (pip install -e '.[train]')")

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
SOUND = (CORPUS / "admitted_modular_power.py").read_text()
LENIENT = (CORPUS / "exec_always_true_verifier.py").read_text()
SYNTAX = (CORPUS / "static_syntax_error.py").read_text()
PROSE = "I would write an environment about sorting, but here is only a description of it."
TINY = {"proposals": 4, "steps": 1, "group_size": 2, "groups_per_step": 1, "max_completion_length": 8,
        "envs": "edit_distance", "eval_seeds": 1, "eval_levels": (0.0,), "active_size": 4}  # fmt: skip


def fenced(source: str) -> str:
    return f"Here is the module.\n```python\n{source}\n```"


def reports(*stages, admitted=False, **figures):
    out = [{"name": name, "passed": True} for name in stages]
    if not admitted:
        out[-1]["passed"] = False
    for report in out:
        report.update(figures.get(report["name"], {}))
    return out


def test_the_generator_reward_ranks_admitted_above_rejected_and_rewards_progress():
    prose = generator_reward(reports("extract"), False)
    static = generator_reward(reports("static"), False)
    execution = generator_reward(reports("static", "execution"), False)
    calibration = generator_reward(reports("static", "execution", "novelty", "review", "calibration"), False)
    assert prose == 0.0 < static < execution < calibration <= 0.2
    stages = ("static", "execution", "novelty", "review", "calibration")
    near = generator_reward(reports(*stages, admitted=True, calibration={"curve": {"0.0": 0.3, "1.0": 0.0}},
                                    novelty={"similarity": 0.4, "threshold": 0.8}), True)  # fmt: skip
    far = generator_reward(reports(*stages, admitted=True, calibration={"curve": {"0.0": 1.0, "1.0": 0.9}},
                                   novelty={"similarity": 0.4, "threshold": 0.8}), True)  # fmt: skip
    copy = generator_reward(reports(*stages, admitted=True, calibration={"curve": {"0.0": 0.3}},
                                    novelty={"similarity": 0.79, "threshold": 0.8}), True)  # fmt: skip
    assert near == pytest.approx(0.5 + 0.3 + 0.2 * 0.5)
    assert 0.5 < far < near and 0.5 < copy < near and min(far, copy) > calibration


def test_bad_settings_are_one_clear_sentence(tmp_path):
    with pytest.raises(InvalidInputError, match="needs its model id"):
        EvolveConfig(policy="http://localhost:1/v1", out=str(tmp_path))
    with pytest.raises(InvalidInputError, match="proposals must be at least 1"):
        EvolveConfig(proposals=0, out=str(tmp_path))
    with pytest.raises(InvalidInputError, match="examples must be 0 or more"):
        EvolveConfig(examples=-1, out=str(tmp_path))
    bad = tmp_path / "evolve.toml"
    bad.write_text("stages = 2\nstagez = 3\n")
    with pytest.raises(InvalidInputError, match="unknown setting 'stagez'"):
        load_config(str(bad), {})
    good = tmp_path / "evolve.json"
    good.write_text(json.dumps({"stages": 3, "proposals": 5}))
    config = load_config(str(good), {"proposals": 2})  # the command line wins over the file
    assert (config.stages, config.proposals) == (3, 2)
    with pytest.raises(InvalidInputError, match="nothing to resume"):
        evolve(EvolveConfig(out=str(tmp_path / "none"), resume=True), progress=False)


class Solver:
    """Answers modular powers right while the modulus is small (easy levels), wrong beyond: a
    solver whose pass rate falls with the level, as calibration wants."""

    @staticmethod
    def reply(messages):
        found = re.search(r"a = (\d+), b = (\d+) and m = (\d+)", messages[-1]["content"])
        if not found:
            return "<answer>0</answer>"
        a, b, m = map(int, found.groups())
        return f"<answer>{pow(a, b, m) if m < 1000 else m + 1}</answer>"


def replayed_generator(scripted_chat):
    proposals = iter([fenced(SOUND), fenced(LENIENT), fenced(SYNTAX), PROSE] * 10)

    def reply(messages):
        text = messages[-1]["content"]
        if "REFERENCE ANSWER:" in text:  # the self-review stage
            return "The verifier compares exact integers.\nVERDICT: ACCEPT"
        return next(proposals)

    return scripted_chat(reply)


def test_stages_admit_reject_train_on_the_archive_and_evaluate(tmp_path, scripted_chat):
    out = tmp_path / "run"
    config = EvolveConfig(**TINY, stages=2, generator="replay", out=str(out))
    state = evolve(config, generator=replayed_generator(scripted_chat), solver=scripted_chat(Solver.reply),
                   progress=False)  # fmt: skip
    assert state["stages_done"] == 2 and [s["done"] for s in state["stages"]] == [["synthesis", "train", "eval"]] * 2
    first, second = state["stages"]
    outcomes = first["synthesis"]["outcomes"]
    assert {k: n for k, n in outcomes.items() if not k.startswith("repair:")} == {
        "admitted": 1, "rejected at execution": 1, "rejected at static": 1, "rejected at extract": 1}  # fmt: skip
    # The lenient and the unparsable module each got one repair attempt (the replayed next modules).
    assert sum(n for k, n in outcomes.items() if k.startswith("repair:")) == 2
    assert first["generator"]["proposals"] == 6 and first["generator"]["admitted"] == 1
    rewards = first["generator"]["rewards"]
    assert max(rewards) > 0.5 > sorted(rewards)[-2]  # the admitted environment earns most
    # The same module again is no longer novel: it is archived already.
    assert second["synthesis"]["outcomes"]["rejected at novelty"] == 1
    with Archive(out / "archive") as archive:
        assert archive.names() == ["modular_power"]
        assert len(archive.candidates()) == first["generator"]["proposals"] + second["generator"]["proposals"]
        assert archive.check()["ok"]
    # Each stage trains on the seeds and everything admitted so far (stage 1's own admission too).
    assert first["pool"]["size"] == second["pool"]["size"] == 2
    assert first["pool"]["origins"].get("archive") == second["pool"]["origins"].get("archive") == 1
    for stage in (1, 2):
        assert (out / f"stage-{stage}" / "train" / "final" / "config.json").is_file()
        assert not list((out / f"stage-{stage}" / "train").glob("checkpoint-*"))  # the phase is done
    # Evaluation before and after every stage, of the trained checkpoints, on the held-out suite.
    assert state["eval"] == ["eval/stage-0.json", "eval/stage-1.json", "eval/stage-2.json"]
    evals = [json.loads((out / path).read_text()) for path in state["eval"]]
    assert all(e["kind"] == "eval" and e["envs"] == ["edit_distance"] and e["seeds"] == 1 for e in evals)
    assert evals[2]["model"].endswith("stage-2/train/final")
    assert json.loads((out / "evolve.json").read_text()) == state


def test_the_policy_is_trained_as_the_generator_with_grpo(tmp_path):
    out = tmp_path / "run"
    # No seed environment in the prompt (--examples 0): a third of the tokens to train on.
    config = EvolveConfig(**{**TINY, "proposals": 2}, stages=1, generator="policy", generator_group_size=2,
                          generator_max_tokens=8, examples=0, out=str(out))  # fmt: skip
    state = evolve(config, progress=False)
    generator = state["stages"][0]["generator"]
    assert generator["trained"] and generator["proposals"] == 2
    assert all(0.0 <= reward <= 0.2 for reward in generator["rewards"])  # 8 tokens admit nothing
    assert (out / "stage-1" / "generator" / "final" / "config.json").is_file()
    with Archive(out / "archive") as archive:
        candidates = archive.candidates()
        assert len(candidates) == 2 and all(c.lineage["mode"] in ("new", "mutate", "repair") for c in candidates)
        assert all(c.lineage["parents"] == [] for c in candidates if c.lineage["mode"] == "new")
        assert archive.runs()[0]["config"]["mode"] == "grpo"
    # Training continued from the policy the generator role had trained.
    train_config = json.loads((out / "stage-1" / "train" / "eval.json").read_text())["config"]
    assert train_config["model"].endswith("stage-1/generator/final")


def _candidates(out: Path) -> int:
    db = out / "archive" / "archive.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM candidates").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run_until(command, condition, timeout=900):
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if condition():
                process.send_signal(signal.SIGKILL)
                process.wait()
                return
            if process.poll() is not None:
                pytest.fail(f"evolve ended before the kill: {process.stderr.read()[-2000:]}")
            time.sleep(0.05)
        pytest.fail("the kill point never came")
    finally:
        if process.poll() is None:
            process.kill()


def test_a_run_killed_mid_synthesis_and_mid_training_resumes_to_the_same_end(tmp_path):
    replies = tmp_path / "generator.json"
    replies.write_text(json.dumps([{"replies": [fenced(LENIENT)]}]))
    out = tmp_path / "run"
    command = [sys.executable, "-m", "envfoundry", "evolve", "--out", str(out), "--stages", "1",
               "--generator", f"replay:{replies}", "--proposals", "5", "--steps", "2", "--save-steps", "1",
               "--group-size", "2", "--groups", "1", "--max-completion-length", "8", "--envs", "edit_distance",
               "--eval-seeds", "1", "--eval-levels", "0"]  # fmt: skip
    _run_until(command, lambda: 1 <= _candidates(out) < 5)
    # Killed mid-synthesis: the starting policy's evaluation is recorded, no phase of stage 1 is.
    state = json.loads((out / "evolve.json").read_text())
    assert state["eval"] == ["eval/stage-0.json"] and state["stages"] == []
    killed_at = _candidates(out)
    checkpoint = out / "stage-1" / "train" / "checkpoint-1"
    _run_until([*command, "--resume"], lambda: checkpoint.is_dir() and (checkpoint / "trainer_state.json").is_file())
    state = json.loads((out / "evolve.json").read_text())
    assert state["stages"][0]["done"] == ["synthesis"]
    done = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((out / "evolve.json").read_text())
    assert state["stages_done"] == 1 and state["stages"][0]["done"] == ["synthesis", "train", "eval"]
    # Synthesis proposed exactly what the stage owed (repair attempts aside): the candidates judged
    # before the kill stand.
    with Archive(out / "archive") as archive:
        proposed = [c for c in archive.candidates() if c.lineage["mode"] != "repair"]
        assert len(proposed) == 5 and len(archive.candidates()) > killed_at and archive.check()["ok"]
    assert state["stages"][0]["synthesis"]["outcomes"]["rejected at execution"] == 5
    # Training went on from its checkpoint to the last step; the finished phase's checkpoints are gone.
    log = [json.loads(line) for line in (out / "stage-1" / "train" / "train_log.jsonl").read_text().splitlines()]
    assert max(entry["step"] for entry in log) == 2
    assert (out / "stage-1" / "train" / "final" / "config.json").is_file()
    assert not list((out / "stage-1" / "train").glob("checkpoint-*"))
    assert "proposed" in done.stdout and "admitted nothing" in done.stdout


def test_a_policy_served_over_the_openai_api_writes_solves_and_is_evaluated(tmp_path, openai_server):
    # A real OpenAI-compatible server (transformers serve) with the embedded model: the policy generates, calibrates and is evaluated
    # through the OpenAI API; nothing local to train, and the stage says so.
    out = tmp_path / "run"
    config = EvolveConfig(**{**TINY, "proposals": 1}, stages=1, policy=openai_server, policy_model="smollm2",
                          generator_max_tokens=48, out=str(out))  # fmt: skip
    state = evolve(config, progress=False)
    entry = state["stages"][0]
    assert entry["train"] is None and "cannot update its weights" in entry["train_skipped"]
    assert entry["generator"]["proposals"] >= 1 and not entry["generator"]["trained"]
    evaluation = json.loads((out / "eval" / "stage-1.json").read_text())
    assert evaluation["backend"] == "openai" and evaluation["model"] == "smollm2"
    assert evaluation["usage"]["requests"] == 1 and evaluation["errors"] == 0
    with Archive(out / "archive") as archive:
        (run,) = archive.runs()
        assert run["config"]["generator"] == "smollm2" and run["config"]["evolve_stage"] == 1
