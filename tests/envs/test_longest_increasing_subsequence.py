"""longest_increasing_subsequence: the O(n log n) solver is right, any LIS is accepted."""

from __future__ import annotations

import itertools
import random

import pytest

import envfoundry
from envfoundry.envs.longest_increasing_subsequence import LongestIncreasingSubsequence, longest_increasing_subsequence


@pytest.fixture(scope="module")
def env() -> LongestIncreasingSubsequence:
    return envfoundry.make("longest_increasing_subsequence")


def _brute_force_length(sequence: list[int]) -> int:
    for size in range(len(sequence), 0, -1):
        for picked in itertools.combinations(sequence, size):
            if all(a < b for a, b in itertools.pairwise(picked)):
                return size
    return 0


def test_solver_matches_brute_force_including_duplicates():
    rng = random.Random(0)
    for _ in range(200):
        sequence = [rng.randint(0, 6) for _ in range(rng.randint(1, 11))]
        lis = longest_increasing_subsequence(sequence)
        assert len(lis) == _brute_force_length(sequence)
        assert all(a < b for a, b in itertools.pairwise(lis))
    assert longest_increasing_subsequence([]) == []
    assert longest_increasing_subsequence([5, 5, 5]) == [5]


STATE = {"sequence": [3, 1, 4, 1, 5, 9, 2, 6], "lis": [3, 4, 5, 9]}


def test_a_different_longest_subsequence_earns_full_reward():
    env = LongestIncreasingSubsequence()
    for answer in ("3 4 5 9", "1 4 5 6", "3 4 5 6", "[1, 4, 5, 9].", "1,4,5,9"):
        assert env.verify(STATE, answer).reward == 1.0, answer


def test_a_shorter_valid_subsequence_earns_documented_partial_credit():
    score = LongestIncreasingSubsequence().verify(STATE, "1 2 6")
    assert score.reward == pytest.approx(0.5 * 3 / 4)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("1 1 4 5 9", "not strictly increasing"),
        ("3 4 5 2", "not strictly increasing"),
        ("1 4 5 7", "7 does not occur"),
        ("2 4 5 9", "4 does not occur"),  # 2 comes after 4 in the sequence
        ("3 4 5 9 or 1 4 5 6", "integers"),
        ("-1 4 5 9", "integers"),
        ("banana", "integers"),
    ],
)
def test_violations_score_zero_with_a_reason(answer, reason):
    score = LongestIncreasingSubsequence().verify(STATE, answer)
    assert score.reward == 0.0
    assert reason in score.reason


def test_levels_change_length_range_and_duplicates(env):
    easy = [env.sample(s, level=0.0).state["sequence"] for s in range(20)]
    hard = [env.sample(s, level=1.0).state["sequence"] for s in range(20)]
    assert all(len(s) == 6 and max(s) <= 9 for s in easy)
    assert all(len(s) == 64 for s in hard) and max(max(s) for s in hard) > 99
    # With 64 draws from 0..999, about 3% repeat by chance; the duplicate rate pushes it far higher.
    repeated = sum(len(s) - len(set(s)) for s in hard) / sum(len(s) for s in hard)
    assert repeated > 0.25


def test_reference_is_never_shown_verbatim(env):
    for seed in range(30):
        instance = env.sample(seed, level=0.5)
        assert instance.reference not in instance.prompt
