"""Conversion end to end: problems in, sandboxed environments in the archive, rejections with reasons.

Every problem's code runs in the sandbox (bubblewrap, as everywhere in the suite)."""

from __future__ import annotations

import json

import pytest

import envfoundry
from envfoundry.archive import Archive
from envfoundry.checks.battery import check_environment
from envfoundry.cli.main import main
from envfoundry.convert import problems
from envfoundry.convert.convert import Converter, summarise
from envfoundry.core import programs
from envfoundry.curriculum import Curriculum
from envfoundry.curriculum.pool import build_pool

HUMANEVAL = ("HumanEval/2", "HumanEval/3", "HumanEval/160")
STDIO = ("max_subarray", "pair_with_sum")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """HumanEval 2 (converts), 3 (returns a bool: too few distinct outputs) and 160 (calls eval), and two
    bundled stdin/stdout problems (two agreeing solutions; several right outputs with a validator)."""
    root = tmp_path_factory.mktemp("convert") / "archive"
    chosen = [p for p in problems.load_humaneval() if p.task_id in HUMANEVAL]
    chosen += [p for p in problems.load("stdio") if p.task_id in STDIO]
    with Archive(root) as archive:
        outcomes = Converter(archive).run(chosen, progress=False)
    return root, {o.problem.split(":", 1)[1]: o for o in outcomes}


def test_sound_problems_convert_and_the_rest_are_rejected_with_the_stage_and_reason(converted):
    _, outcomes = converted
    assert outcomes["HumanEval/2"].converted, outcomes["HumanEval/2"].reason
    assert outcomes["max_subarray"].converted, outcomes["max_subarray"].reason
    assert outcomes["pair_with_sum"].converted, outcomes["pair_with_sum"].reason
    below_zero = outcomes["HumanEval/3"]
    assert (below_zero.stage, below_zero.reason[:38]) == ("execution", "nontrivial: only 2 distinct references")
    assert outcomes["HumanEval/160"].stage == "static" and "eval()" in outcomes["HumanEval/160"].reason
    agreement = next(r for r in outcomes["max_subarray"].reports if r["name"] == "agreement")
    assert agreement["solutions"] == 2 and agreement["tests_passed"] == 2
    scale = next(r for r in outcomes["HumanEval/2"].reports if r["name"] == "scale")
    assert scale["level_1"]["magnitude"] > scale["level_0"]["magnitude"]
    summary = summarise(list(outcomes.values()))
    assert (summary["total"], summary["converted"], summary["rejected_by_stage"]) == (5, 3, {"execution": 1, "static": 1})


def test_converted_environments_are_archived_with_their_problem_and_pass_the_battery(converted):
    root, _ = converted
    with Archive(root) as archive:
        admitted = {env.name: env for env in archive.environments()}
    assert set(admitted) == {"humaneval_2_truncate_number", "stdio_problems_max_subarray", "stdio_problems_pair_with_sum"}
    lineage = admitted["humaneval_2_truncate_number"].lineage
    assert (lineage["mode"], lineage["dataset"], lineage["task_id"]) == ("convert", "humaneval", "HumanEval/2")
    assert lineage["solution_hash"] == problems.load_humaneval()[2].solution_hash
    env = envfoundry.make("humaneval_2_truncate_number", archive=root)
    try:
        assert type(env).__name__ == "SandboxedEnvironment"
        results = check_environment(env, seeds=range(4))
        assert all(r.passed for r in results), [r.to_dict() for r in results if not r.passed]
        instance = env.sample(3, level=1.0)
        assert "truncate_number(" in instance.prompt and instance.reference not in instance.prompt
        value = float(instance.reference)
        assert env.score_answer(instance, repr(value + 1e-9)).correct  # any spelling of the value
        assert not env.score_answer(instance, repr(value + 0.01)).correct
        assert env.score_answer(instance, "about a half").metadata["failure"] == "unparseable"
    finally:
        env.close()


def test_an_answer_any_valid_output_earns_full_reward_where_several_are_right(converted):
    root, _ = converted
    env = envfoundry.make("stdio_problems_pair_with_sum", archive=root)
    try:
        instance = env.sample(0, level=0.5)
        header, values = instance.state["input"].split("\n")[:2]
        target, a = int(header.split()[1]), list(map(int, values.split()))
        pairs = [(i + 1, j + 1) for i in range(len(a)) for j in range(i + 1, len(a)) if a[i] + a[j] == target]
        for i, j in pairs[:3]:
            assert env.score_answer(instance, f"{i} {j}").correct
        assert not env.score_answer(instance, f"{pairs[0][1]} {pairs[0][0]}").correct  # i < j is required
        assert not env.score_answer(instance, "1 1").correct
    finally:
        env.close()


def test_training_draws_from_converted_environments(converted):
    root, _ = converted
    with build_pool(f"archive:{root}") as pool:
        assert pool.origins() == {"archive": 3}
        curriculum = Curriculum(pool.envs, group_size=2, active_size=3, seed=0)
        batch = curriculum.next_batch(3)
        assert {request.env for request in batch} <= set(pool.envs) and len(batch) == 3
        for request in batch:
            instance = request.instance
            assert instance.env == request.env and instance.prompt
            assert pool.envs[request.env].score(instance, f"<answer>{instance.reference}</answer>").correct


def _jsonl(tmp_path, *rows):
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


DOUBLE = "def double(x):\n    return 2 * x\n"


def test_what_cannot_be_trusted_is_rejected_and_problem_code_never_runs_on_the_host(tmp_path):
    marker = "import envfoundry.core.programs as _p\n_p.RAN_HERE = True\n" + DOUBLE
    rows = [
        {"task_id": "disagree", "statement": "Return twice x.", "entry_point": "double",
         "solutions": [DOUBLE, "def double(x):\n    return x + 2\n"], "examples": [[3], [10]]},
        {"task_id": "fails_tests", "statement": "Return twice x.", "entry_point": "double", "solution": DOUBLE,
         "examples": [[3]], "tests": [{"args": [3], "output": 7}]},
        {"task_id": "many_unchecked", "statement": "Any multiple of x.", "entry_point": "double", "solution": DOUBLE,
         "examples": [[3]], "answers": "many"},
        {"task_id": "marked", "statement": "Return twice x.", "entry_point": "double", "solution": marker,
         "examples": [[3], [40]]},
    ]  # fmt: skip
    outcomes = {o.problem.split(":")[1]: o for o in Converter(None).run(problems.load_jsonl(_jsonl(tmp_path, *rows)),
                                                                       progress=False)}  # fmt: skip
    assert outcomes["disagree"].stage == "agreement" and "solution 2 disagrees with solution 1" in outcomes["disagree"].reason
    assert outcomes["fails_tests"].stage == "agreement" and "double(3) gave 6" in outcomes["fails_tests"].reason
    assert outcomes["many_unchecked"].stage == "template"
    assert outcomes["many_unchecked"].reason == "several outputs are right and no validity verifier was given"
    assert outcomes["marked"].stage not in ("template", "static")  # it ran (in the sandbox)...
    assert not hasattr(programs, "RAN_HERE")  # ...and never in this process


def test_the_convert_command_prints_the_yield_as_json_and_refuses_bad_input(tmp_path, capsys):
    archive = tmp_path / "archive"
    assert main(["convert", "stdio", "--only", "sum_of_list,no_such", "--archive", str(archive)]) == 2
    assert "no_such" in capsys.readouterr().err
    assert main(["convert", "stdio", "--only", "sum_of_list", "--json", "--archive", str(archive)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["total"], summary["converted"], summary["rejected"]) == (1, 1, {})
    assert summary["cpu_seconds"] > 0 and summary["environments"] == ["stdio_problems_sum_of_list"]
    env = envfoundry.make("stdio_problems_sum_of_list", archive=archive)
    try:
        instance = env.sample(1, level=0.0)
        assert env.score(instance, f"<answer>{instance.reference}</answer>").correct
    finally:
        env.close()
    assert main(["convert", str(tmp_path / "none.jsonl")]) == 2
    assert "no problem file at" in capsys.readouterr().err
