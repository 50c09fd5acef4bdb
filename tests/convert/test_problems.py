"""Problem sources: HumanEval from the installed package, the JSONL format, the bundled problems."""

from __future__ import annotations

import json

import pytest

from envfoundry.convert import problems
from envfoundry.convert.data import stdio_problems
from envfoundry.convert.template import ConversionError, environment_name, render, wrap
from envfoundry.synth.stages.static import check_source


def test_humaneval_is_read_from_the_installed_package_with_its_example_inputs():
    loaded = problems.load_humaneval()
    assert len(loaded) == 164 and len({p.task_id for p in loaded}) == 164
    first = loaded[0]
    assert first.entry_point == "has_close_elements" and first.kind == "function"
    assert [[1.0, 2.0, 3.0], 0.5] in first.examples  # a literal call in its check()
    assert "def check(candidate)" in first.check_source and first.solutions[0].startswith(first.statement[:20])
    assert all(p.examples for p in loaded)
    decode = loaded[38]  # its check() builds inputs at run time: examples from the signature
    assert decode.entry_point == "decode_cyclic" and decode.examples == [["the quick brown fox"], ["jumps over a lazy dog"]]


def test_only_literal_calls_become_examples():
    source = "assert f(1, [2, 'a']) == 3\nassert f(x) == 1\nassert f(*args)\nassert g(4) == 1\n>>> f(5"
    assert problems.call_literals(source, "f") == [[1, [2, "a"]]]
    assert problems.call_literals("f(2)\nf(\nf('x')", "f") == [[2], ["x"]]  # fragments line by line


def test_examples_from_annotations_only_where_every_parameter_has_a_plain_type():
    assert problems.annotated_examples("def f(xs: List[int], s: str, b: bool): ...", "f") == [
        [[3, 12], "the quick brown fox", True], [[12, 3], "jumps over a lazy dog", False]]  # fmt: skip
    assert problems.annotated_examples("def f(x: float) -> int: ...", "f") == [[1.5], [7.25]]
    for unusable in ("def f(x, s: str): ...", "def f(d: dict): ...", "def f(*xs: int): ...", "def f(): ...",
                     "def g(x: int): ...", "def f(x: int"):  # fmt: skip
        assert problems.annotated_examples(unusable, "f") == []


def _write(tmp_path, *rows):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"task_id": "double", "statement": "Return twice x.", "entry_point": "double",
        "solution": "def double(x):\n    return 2 * x\n", "examples": [[3]]}  # fmt: skip


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "mine.jsonl line 1 is not valid JSON"),
        ([1], "each line must be a JSON object"),
        ({**GOOD, "task_id": 7}, "'task_id' must be a string, got int"),
        ({**GOOD, "kind": "batch"}, "'kind' must be 'function' or 'stdio'"),
        ({k: v for k, v in GOOD.items() if k != "solution"}, "give 'solution'"),
        ({**GOOD, "entry_point": "2x"}, "needs 'entry_point'"),
        ({**GOOD, "examples": [3]}, "'examples' must be a list of argument lists"),
        ({**GOOD, "tests": [{"input": "1"}]}, "'tests' must be a list of objects with args and output"),
        ({**GOOD, "answers": "some"}, "'answers' must be 'unique' or 'many'"),
        ({**GOOD, "input_generator": {"source": "def generate_input(rng, n): return [n]",
                                      "params": {"n": {"type": "int", "low": 5, "high": 1}}}}, "with L <= H"),
    ],
)
def test_bad_problem_files_get_one_sentence_naming_the_line_and_field(tmp_path, row, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("'", "'")):
        problems.load_jsonl(_write(tmp_path, row))


def test_a_good_file_loads_and_duplicates_or_emptiness_are_refused(tmp_path):
    (problem,) = problems.load_jsonl(_write(tmp_path, {**GOOD, "tests": [{"args": [4], "output": 8}]}))
    assert problem.dataset == "mine" and problem.examples == [[3], [4]] and problem.answers == "unique"
    with pytest.raises(ValueError, match="task_id 'double' appears twice"):
        problems.load_jsonl(_write(tmp_path, GOOD, GOOD))
    with pytest.raises(ValueError, match="holds no problems"):
        problems.load_jsonl(_write(tmp_path, ""))
    with pytest.raises(ValueError, match="unknown problem source 'humaneva'"):
        problems.load("humaneva")


def test_the_bundled_stdio_problems_match_their_source_and_are_twenty_or_more(tmp_path):
    loaded = problems.load("stdio")
    assert len(loaded) >= 20 and all(p.kind == "stdio" and p.input_generator for p in loaded)
    assert sum(len(p.solutions) > 1 for p in loaded) >= 3 and any(p.answers == "many" and p.validator for p in loaded)
    written = stdio_problems.write(tmp_path / "fresh.jsonl").read_text()
    assert written == problems.bundled_stdio_path().read_text()  # regenerate with python -m ...stdio_problems


def test_stdin_programs_are_rewritten_to_the_wrapper_and_the_module_is_static_clean():
    program = (
        "import sys, math\n"
        "def main():\n    n = int(input())\n    data = sys.stdin.read().split()\n    print(n + len(data))\n"
        "    sys.exit(0)\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    wrapped = wrap(program, "_solution_0", "", "solution", stdio=True)
    assert "_ef_input()" in wrapped and "_ef_sys.stdin.read()" in wrapped and "import sys" not in wrapped
    assert "if '__main__' == '__main__'" in wrapped and "_ef_sys.exit(0)" in wrapped
    with pytest.raises(ConversionError, match="imports names from sys"):
        wrap("from sys import stdin\nprint(stdin.read())", "_s", "", "solution", stdio=True)
    with pytest.raises(ConversionError, match="defines no function named 'f'"):
        wrap("def g():\n    return 1\n", "_s", "f", "solution")
    stdio = problems.load("stdio")[0]
    from envfoundry.convert.convert import initial_scale

    source = render(stdio, initial_scale(stdio))
    passed, reason, _, name = check_source(source, "sum_of_list.py")
    assert passed, reason
    assert name == environment_name(stdio) == "stdio_problems_sum_of_list"
