"""The calls stage's choices: how many calls an instance asks about, and when outputs are balanced.

The execution stage's rule (>= 10 distinct references in 100 draws, the most common <= 30%) is
what the choices aim at; these tests check them against it, on output samples of known shape."""

from __future__ import annotations

import random
from collections import Counter

from envfoundry.convert.stages import calls
from envfoundry.core import programs
from envfoundry.synth.stages.execution import MAX_COMMON_SHARE, MIN_DISTINCT_REFERENCES


def _answers(outputs: list[str], count: int, seed: int) -> list[str]:
    """Answers of ``count`` calls drawn as the execution stage would see them (fresh draws)."""
    rng = random.Random(seed)
    return ["[" + ", ".join(rng.choice(outputs) for _ in range(count)) + "]" for _ in range(100)]


def test_single_calls_that_already_vary_stay_single_and_coins_are_asked_several_times():
    assert calls.choose([str(n) for n in range(100)]) == 1
    assert calls.choose([str(n % 12) for n in range(100)]) == 1  # 12 values, each 8-9%
    coin = ["True"] * 50 + ["False"] * 50
    count = calls.choose(coin)
    assert count is not None and 2 < count <= 8
    for seed in range(5):  # fresh draws of that many calls pass the rule, not only the resampled ones
        counts = Counter(_answers(coin, count, seed))
        assert len(counts) >= MIN_DISTINCT_REFERENCES and max(counts.values()) <= MAX_COMMON_SHARE * 100
    assert calls.choose(coin[:30] + coin[50:] + coin[50:70]) > count  # a 30/70 coin needs more calls


def test_no_number_of_calls_is_chosen_where_one_output_nearly_always_comes():
    assert calls.choose(["0"] * 100) is None
    assert calls.choose(["False"] * 97 + ["True"] * 3) is None


def test_outputs_are_balanced_only_where_one_is_much_more_common_than_its_share():
    skewed = ["True"] * 96 + ["False"] * 4
    assert calls.balance(skewed) == {"classes": ["True"], "other": True}
    assert calls.balance(["True"] * 50 + ["False"] * 50) is None  # already even
    assert calls.balance(["0"] * 100) is None  # one output: nothing to balance towards
    counts = ["0"] * 60 + ["1"] * 25 + [str(n) for n in range(2, 17)]
    assert calls.balance(counts) == {"classes": ["0", "1"], "other": True}
    assert calls.balance([str(n) for n in range(100)]) is None


def test_format_examples_depend_on_the_shape_alone():
    """An example that changed with the value would say what the value is not."""
    assert programs.example_answer("3") == programs.example_answer("7") == "7"
    assert programs.example_answer("True") == programs.example_answer("False") == "True"
    assert programs.example_answer("'abc'") == programs.example_answer("'xyz'")
    assert programs.example_calls("True") == programs.example_calls("False") == "[True, False, ...]"
    assert programs.example_calls("12") == programs.example_calls("-3") == "[7, 3, ...]"
