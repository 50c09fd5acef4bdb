"""Everything Ray, on one local cluster (``ray.init(num_cpus=2)``) started once for this module:
the executor itself; a batch of candidates validated with their sandbox stages and calibration's
scoring on Ray workers, giving the reports the local process pool and ``validate`` give; a batch
of (instance, response) pairs scored on Ray as each environment scores them here; and the
command line's ``--executor ray``."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
from pathlib import Path

import pytest

import envfoundry
from envfoundry.cli.main import main
from envfoundry.executor import LocalExecutor, make_executor
from envfoundry.export.scoring import score_pairs
from envfoundry.similarity import NoveltyIndex
from envfoundry.synth.pipeline import validate
from envfoundry.synth.stages.base import Candidate, Context
from envfoundry.synth.synthesize import check_candidates

ray = pytest.importorskip("ray", reason="the Ray executor needs the ray extra (pip install -e '.[ray]')")

CORPUS = Path(__file__).parents[1] / "synth" / "corpus"
# The second modular_power is a copy of the first: novelty rejects it only because the first was
# admitted earlier in the same batch (the host stages run in order, wherever the sandbox stages ran).
BATCH = ("admitted_modular_power", "static_import_os", "exec_wrong_reference", "admitted_modular_power")
EXPECTED = [None, "static", "execution", "novelty"]  # the stage each candidate fails at (None: admitted)
# Figures that measure time: they differ between any two runs, on any executor.
TIMINGS = {"seconds", "cpu_seconds", "median_ms", "max_ms"}


@pytest.fixture(scope="module")
def cluster():
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a throwaway local cluster needs no token
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        executor = make_executor("ray")
        yield executor
        executor.close()  # leaves the cluster it did not start running
        assert ray.is_initialized()
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


@pytest.fixture(scope="module")
def seeds_index():
    return NoveltyIndex.for_seeds(embedder=None)  # structural similarity: no model to load


def solve_modular_power(messages):
    """Right while the modulus is small (easy levels), wrong beyond: calibration finds a curve."""
    found = re.search(r"a = (\d+), b = (\d+) and m = (\d+)", messages[-1]["content"])
    if not found:
        return "<answer>0</answer>"
    a, b, m = map(int, found.groups())
    return f"<answer>{pow(a, b, m) if m < 1000 else m + 1}</answer>"


def without_timings(value):
    """A report with the measured times left out (the sample-time check's reason quotes one)."""
    if isinstance(value, dict):
        out = {key: without_timings(item) for key, item in value.items() if key not in TIMINGS}
        if out.get("name") == "sample_time":
            out.pop("reason", None)
        return out
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def candidates() -> list[Candidate]:
    return [Candidate((CORPUS / f"{name}.py").read_text(), filename=f"{name}.py") for name in BATCH]


def test_tasks_keep_their_order_and_a_failure_is_the_tasks_own_exception(cluster):
    assert cluster.kind == "ray" and cluster.workers == 2
    assert cluster.map(functools.partial(pow, exp=2), range(6), progress=False) == [0, 1, 4, 9, 16, 25]
    with pytest.raises(ValueError, match="invalid literal for int"):
        cluster.map(int, ["1", "x"], progress=False)


def test_a_batch_of_candidates_validates_on_ray_as_on_the_local_pool_and_in_process(cluster, seeds_index,
                                                                                     scripted_chat):  # fmt: skip
    solver = scripted_chat(solve_modular_power)
    # The reference: every stage of every candidate in this process, admitted ones joining the index.
    index = copy.deepcopy(seeds_index)
    reference = []
    for candidate in candidates():
        result = validate(candidate, Context(novelty_index=index, solver=solver, calibration_per_level=4))
        if result.admitted:
            index.add(f"archive:{candidate.name}", candidate.source)
        reference.append(without_timings(result.to_dict()))
    assert [None if r["admitted"] else next(s["name"] for s in r["stages"] if not s["passed"])
            for r in reference] == EXPECTED  # fmt: skip
    calibration = reference[0]["stages"][-1]  # the solver ran: its pass rate is strictly between 0 and 1 somewhere
    assert calibration["name"] == "calibration" and not calibration["skipped"] and "target_level" in calibration
    assert "duplicate of archive:modular_power" in reference[3]["stages"][-1]["reason"]
    with LocalExecutor(workers=2) as pool:
        for executor in (pool, cluster):
            context = Context(novelty_index=copy.deepcopy(seeds_index), solver=solver, calibration_per_level=4,
                              executor=executor)  # fmt: skip
            batch = [without_timings(result.to_dict()) for result in check_candidates(candidates(), context)]
            assert batch == reference, executor.kind


def test_pairs_score_on_ray_as_each_environment_scores_them_here(cluster, tmp_path):
    modular_power = str(CORPUS / "admitted_modular_power.py")
    names = ["knapsack", modular_power]
    if _has_reasoning_gym():
        names.append("rg:chain_sum")
    instances, responses, expected = [], [], []
    for name in names:
        env = envfoundry.make(name)
        with env if hasattr(env, "close") else contextlib.nullcontext(env):
            for instance in env.sample_many(list(range(3)), level=0.5):
                for response in (f"<answer>{instance.reference}</answer>", "<answer>-1</answer>", "no tags"):
                    instances.append(instance)
                    responses.append(response)
                    expected.append(env.score(instance, response))
    sources = {"modular_power": modular_power}
    on_ray = score_pairs(instances, responses, executor=cluster, sources=sources, chunk=4, progress=False)
    assert on_ray == expected
    assert [v.correct for v in on_ray] == [True, False, False] * (len(on_ray) // 3)
    # The command line: the pairs as JSON Lines (instances as JSON text, as an export's labels are).
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"instance": i.to_json(), "response": r}) + "\n"
                             for i, r in zip(instances, responses, strict=True)))  # fmt: skip
    out = tmp_path / "verdicts.jsonl"
    code = main(["score-batch", str(pairs), "--source", modular_power, "--executor", "ray", "--out", str(out),
                 "--json"])  # fmt: skip
    assert code == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(w["env"], w["reward"], w["correct"], w["reason"]) for w in written] == [
        (i.env, v.reward, v.correct, v.reason) for i, v in zip(instances, expected, strict=True)]  # fmt: skip


def _has_reasoning_gym() -> bool:
    try:
        import reasoning_gym  # noqa: F401
    except ImportError:
        return False
    return True
