"""Conversion end to end: problems in, sandboxed environments in the archive, rejections with reasons.

Every problem's code runs in the sandbox (bubblewrap, as everywhere in the suite)."""

from __future__ import annotations

import json

import pytest

import envfoundry
from envfoundry.archive import Archive
from envfoundry.checks.battery import check_environment
from envfoundry.cli.main import main
from envfoundry.convert import problems, template
from envfoundry.convert.convert import Converter, initial_scale, summarise
from envfoundry.convert.stages import scale
from envfoundry.core import programs
from envfoundry.curriculum import Curriculum
from envfoundry.curriculum.pool import build_pool
from envfoundry.sandbox import SandboxedEnvironment

HUMANEVAL = ("HumanEval/2", "HumanEval/3", "HumanEval/160")
STDIO = ("max_subarray", "pair_with_sum")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """HumanEval 2 (converts), 3 (returns a bool, nearly always True on mutated inputs: converts with
    balanced outputs and several calls an instance) and 160 (calls eval), and two bundled
    stdin/stdout problems (two agreeing solutions; several right outputs with a validator)."""
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
    assert outcomes["HumanEval/3"].converted, outcomes["HumanEval/3"].reason
    counted = next(r for r in outcomes["HumanEval/3"].reports if r["name"] == "calls")
    assert counted["unbalanced"]["most_common_share"] > 0.8 and counted["most_common_share"] < 0.7
    assert 2 <= counted["calls"] <= 8
    assert next(r for r in outcomes["HumanEval/2"].reports if r["name"] == "calls")["calls"] == 1
    assert outcomes["HumanEval/160"].stage == "static" and "eval()" in outcomes["HumanEval/160"].reason
    agreement = next(r for r in outcomes["max_subarray"].reports if r["name"] == "agreement")
    assert agreement["solutions"] == 2 and agreement["tests_passed"] == 2
    scale = next(r for r in outcomes["HumanEval/2"].reports if r["name"] == "scale")
    assert scale["level_1"]["magnitude"] > scale["level_0"]["magnitude"]
    summary = summarise(list(outcomes.values()))
    assert (summary["total"], summary["converted"], summary["rejected_by_stage"]) == (5, 4, {"static": 1})


def test_converted_environments_are_archived_with_their_problem_and_pass_the_battery(converted):
    root, _ = converted
    with Archive(root) as archive:
        admitted = {env.name: env for env in archive.environments()}
    assert set(admitted) == {"humaneval_2_truncate_number", "humaneval_3_below_zero", "stdio_problems_max_subarray",
                             "stdio_problems_pair_with_sum"}
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
        examples = {i.prompt.rsplit("for example <answer>", 1)[1].split("</answer>")[0]
                    for i in env.sample_many(list(range(30)), level=0.5)}  # fmt: skip
        assert examples == {"2.5"}  # one example for every instance
        value = float(instance.reference)
        assert env.score_answer(instance, repr(value + 1e-9)).correct  # any spelling of the value
        assert not env.score_answer(instance, repr(value + 0.01)).correct
        assert env.score_answer(instance, "about a half").metadata["failure"] == "unparseable"
    finally:
        env.close()


def test_a_function_with_few_outputs_is_asked_about_several_balanced_calls_all_or_nothing(converted):
    root, _ = converted
    env = envfoundry.make("humaneval_3_below_zero", archive=root)
    try:
        results = check_environment(env, seeds=range(4))
        assert all(r.passed for r in results), [r.to_dict() for r in results if not r.passed]
        instances = env.sample_many(list(range(40)), level=0.5)
        for instance in instances:
            outputs = programs.parse_literal(instance.reference)
            calls = instance.state["input"].split("\n")
            assert len(calls) == len(outputs) >= 2 and all(isinstance(o, bool) for o in outputs)
            assert all(f"{n}. `{call}`" in instance.prompt for n, call in enumerate(calls, 1))
            assert "<answer>[True, False, ...]</answer>" in instance.prompt  # the same for every instance
        instance = instances[0]
        outputs = programs.parse_literal(instance.reference)
        assert env.score_answer(instance, repr(tuple(outputs))).correct  # any spelling of the list
        for wrong in ([not outputs[0], *outputs[1:]], outputs[:-1], [*outputs, True]):
            assert env.score_answer(instance, repr(wrong)).reward == 0.0
        every = [o for i in instances for o in programs.parse_literal(i.reference)]
        assert 0.3 <= every.count(True) / len(every) <= 0.7  # balanced: mutated inputs alone give ~95% True
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
        assert pool.origins() == {"archive": 4}
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
        {"task_id": "constant", "statement": "Whether x has over 99 digits.", "entry_point": "huge",
         "solution": "def huge(x):\n    return len(str(x)) > 99\n", "examples": [[3], [40]]},
    ]  # fmt: skip
    outcomes = {o.problem.split(":")[1]: o for o in Converter(None).run(problems.load_jsonl(_jsonl(tmp_path, *rows)),
                                                                       progress=False)}  # fmt: skip
    assert outcomes["disagree"].stage == "agreement" and "solution 2 disagrees with solution 1" in outcomes["disagree"].reason
    assert outcomes["fails_tests"].stage == "agreement" and "double(3) gave 6" in outcomes["fails_tests"].reason
    assert outcomes["many_unchecked"].stage == "template"
    assert outcomes["many_unchecked"].reason == "several outputs are right and no validity verifier was given"
    constant = outcomes["constant"]  # always False: no number of calls makes its answers vary
    assert constant.stage == "execution" and constant.reason.startswith("nontrivial: only 1 distinct reference")
    assert "no number of calls" in next(r for r in constant.reports if r["name"] == "calls")["reason"]
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


def test_level_0_comes_below_examples_already_at_the_limit_and_time_bounds_work_done_in_c(tmp_path):
    """The scale stage alone, on the probes of two problems."""
    cubic = "def cubic(n):\n    total = 0\n    for i in range(n * n * n):\n        total += i % 7\n    return total\n"
    rows = [  # cubic(21) executes ~18,500 lines, cubic(22) ~21,300: over the 20,000-line budget
        {"task_id": "cubic", "statement": "Sum i % 7 below n cubed.", "entry_point": "cubic", "solution": cubic,
         "examples": [[2], [21]]},
        {"task_id": "triangle", "statement": "Return 0 + 1 + ... + (n - 1).", "entry_point": "triangle",
         "solution": "def triangle(n):\n    return sum(range(n))\n", "examples": [[10], [20]]},
    ]  # fmt: skip
    found = {}
    for problem in problems.load_jsonl(_jsonl(tmp_path, *rows)):
        dims = initial_scale(problem)
        with SandboxedEnvironment(source=template.render(problem, dims, probe=True), filename="probe.py") as env:
            report, _ = scale.run(env, dims)
        assert report.passed, report.reason
        found[problem.task_id] = report.figures
    assert found["cubic"]["level_0_lowered"] and found["cubic"]["level_0"]["magnitude"] < 21
    assert found["cubic"]["level_1"]["magnitude"] == 21 and "a reference run of" in found["cubic"]["limited_by"]["magnitude"]
    triangle = found["triangle"]
    assert not triangle["level_0_lowered"] and 10**3 < triangle["level_1"]["magnitude"] < 10**8  # seconds at 10**9
    assert triangle["limited_by"]["magnitude"].startswith("a sampling time of")  # one executed line, much C
