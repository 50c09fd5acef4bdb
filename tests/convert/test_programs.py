"""The runtime of converted environments: bounded calls, canonical outputs, comparison, mutation."""

from __future__ import annotations

import random

import pytest

from envfoundry.core import programs
from envfoundry.core.programs import ProgramFailed


def test_run_bounded_counts_lines_copies_its_input_and_stops_runaway_programs():
    def total(values):
        values.append(100)  # a solution may change its input: the caller's copy must not change
        out = 0
        for v in values:
            out += v
        return out

    given = [1, 2, 3]
    result, lines = programs.run_bounded(total, [given])
    assert result == 106 and given == [1, 2, 3] and lines >= 5

    def forever():
        while True:
            pass

    with pytest.raises(ProgramFailed) as failed:
        programs.run_bounded(forever, (), max_lines=10_000)
    assert failed.value.kind == "too_slow"

    def swallows():  # catches the budget's exception and returns anyway: still over budget
        try:
            while True:
                pass
        except BaseException:  # noqa: BLE001 - the point of the test
            return 1

    with pytest.raises(ProgramFailed, match="more than 1000 lines"):
        programs.run_bounded(swallows, (), max_lines=1_000)
    with pytest.raises(ProgramFailed) as failed:
        programs.run_bounded(lambda: 1 // 0)
    assert failed.value.kind == "raised" and "ZeroDivisionError" in str(failed.value)


def test_literals_are_canonical_and_answers_compare_by_value():
    assert programs.literal([1, (2.0, "a"), {3, 1}, {"b": 1, "a": None}]) == "[1, (2.0, 'a'), {1, 3}, {'a': None, 'b': 1}]"
    assert programs.literal(1 / 3) == "0.333333" and programs.literal((5,)) == "(5,)"
    with pytest.raises(ProgramFailed):
        programs.literal(float("nan"))
    with pytest.raises(ProgramFailed):
        programs.literal(object())
    same = programs.same_value
    assert same([1, 2], (1, 2)) and same((1, [2]), [1, (2,)])  # list and tuple of equal items
    assert same(0.3333333, 1 / 3) and not same(0.3334, 1 / 3) and same(2, 2.0)
    assert not same(True, 1) and not same(1, True) and not same("1", 1) and not same(None, 0)
    assert same({"a": [1.0]}, {"a": [1.0000001]}) and not same({"a": 1}, {"a": 1, "b": 2})
    assert not same([1, 2], [1, 2, 3]) and not same({1, 2}, [1, 2])


def test_parse_literal_evaluates_no_code():
    assert programs.parse_literal(" [1, 'a'] ") == [1, "a"]
    assert programs.parse_literal("```python\n(1, 2)\n```") == (1, 2)
    for text in ("__import__('os').getcwd()", "[x for x in range(3)]", "1 +", "[" * 100_000, "a" * 30_000):
        with pytest.raises(ValueError):
            programs.parse_literal(text)


def test_inputs_grow_from_the_examples_within_size_and_magnitude():
    examples = [[[1, 2, 3], "abc", 4], [[], "a", 0], [[5], "cab", 2]]
    specs = programs.infer_spec(examples)
    assert [s["t"] for s in specs] == ["list", "str", "int"]
    assert programs.spec_dimensions(specs) == {"size": 3, "magnitude": 5}

    def draws(size, magnitude, n=200):
        rng = random.Random(0)
        return [programs.draw_input(rng, examples, specs, size, magnitude) for _ in range(n)]

    small, large = draws(4, 10), draws(40, 10_000)
    assert draws(4, 10) == small  # a pure function of the rng
    for values, text, number in small:
        assert len(values) <= 4 and len(text) <= 4 and 0 <= number <= 10  # non-negative, like the examples
        assert all(isinstance(v, int) and 0 <= v <= 10 for v in values) and set(text) <= set("abc")
    mean = lambda rows, i: sum(len(r[i]) for r in rows) / len(rows)  # noqa: E731
    assert mean(large, 0) > 5 * mean(small, 0) and mean(large, 1) > 5 * mean(small, 1)
    assert sum(r[2] for r in large) / len(large) > 100 * sum(r[2] for r in small) / len(small)
    with pytest.raises(ValueError, match="different numbers of arguments"):
        programs.infer_spec([[1], [1, 2]])


def test_words_stay_words_and_signed_numbers_keep_both_signs():
    specs = programs.infer_spec([["one two three"], ["three one"]])
    rng = random.Random(1)
    texts = [programs.draw_input(rng, [["one two three"]], specs, 30, 1)[0] for _ in range(100)]
    worded = [t for t in texts if set(t.split()) <= {"one", "two", "three"}]
    assert len(worded) > 60  # most draws recombine the examples' words
    signed = programs.infer_spec([[-3], [4]])
    values = [programs.draw_input(rng, [[-3]], signed, 1, 1000)[0] for _ in range(200)]
    assert min(values) < -400 and max(values) > 400


def test_stdio_programs_read_and_print_through_the_wrapper():
    def program(_ef_input, _ef_sys, print, _ef_exit):
        n = int(_ef_input())
        rest = _ef_sys.stdin.read().split()
        print(n, len(rest), sep=":")
        _ef_sys.stdout.write("done\n")
        _ef_exit()
        print("never")

    output, lines = programs.run_stdio(program, "3\na b c\nd\n")
    assert output == "3:4\ndone\n" and lines > 0
    with pytest.raises(ProgramFailed, match="EOF"):
        programs.run_stdio(lambda i, s, p, e: i() + i(), "only one line\n")
