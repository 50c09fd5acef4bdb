"""edit_distance: the DP is right, the answer is parsed strictly, levels change the strings."""

from __future__ import annotations

import functools
import random

import pytest

import envfoundry
from envfoundry.envs.edit_distance import EditDistance, levenshtein


@pytest.fixture(scope="module")
def env() -> EditDistance:
    return envfoundry.make("edit_distance")


def _recursive(a: str, b: str) -> int:
    @functools.cache
    def d(i: int, j: int) -> int:
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_levenshtein_on_known_pairs_and_against_recursion():
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3 and levenshtein("abc", "") == 3
    assert levenshtein("flaw", "lawn") == 2
    rng = random.Random(1)
    for _ in range(300):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 9)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 9)))
        assert levenshtein(a, b) == _recursive(a, b) == levenshtein(b, a)
    # Strings longer than a machine word exercise the unbounded bit vectors of the fast form.
    for _ in range(20):
        a = "".join(rng.choice("ab") for _ in range(rng.randint(60, 75)))
        b = "".join(rng.choice("ab") for _ in range(rng.randint(60, 75)))
        assert levenshtein(a, b) == _recursive(a, b)


def test_sampled_distances_are_right_and_positive(env):
    for level in (0.0, 0.5, 1.0):
        for seed in range(15):
            state = env.sample(seed, level=level).state
            assert state["distance"] == _recursive(state["a"], state["b"]) > 0


@pytest.mark.parametrize(
    ("answer", "reward"),
    [("3", 1.0), (" 3. ", 1.0), ("+3", 1.0), ("4", 0.0), ("3 4", 0.0), ("3 or 4", 0.0), ("3.0", 0.0), ("three", 0.0)],
)
def test_answer_is_one_integer(answer, reward):
    state = {"a": "kitten", "b": "sitting", "distance": 3}
    assert EditDistance().verify(state, answer).reward == reward


def test_levels_change_length_alphabet_and_distance(env):
    easy = [env.sample(s, level=0.0).state for s in range(20)]
    hard = [env.sample(s, level=1.0).state for s in range(20)]
    assert all(len(s["a"]) == 4 for s in easy) and all(len(s["a"]) == 40 for s in hard)
    assert all(len(set(s["a"] + s["b"])) <= 2 for s in hard)
    assert max(s["distance"] for s in easy) < min(s["distance"] for s in hard)
    # Level 0 still varies its answer, so a constant guess does not solve it.
    assert len({s["distance"] for s in easy}) > 1


def test_prompt_example_is_never_the_answer(env):
    # Regression: the example "7" was the distance of about a quarter of default-level instances.
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        for seed in range(300):
            instance = env.sample(seed, level=level)
            example = instance.prompt.split("for example <answer>")[1].split("</answer>")[0]
            assert not env.score_answer(instance, example).correct
