import itertools
from collections import Counter

import envfoundry

ENV = envfoundry.make("planted_subset_sum")


def test_any_subset_with_the_right_sum_is_accepted_not_only_the_planted_one():
    found_alternative = False
    for seed in range(40):
        instance = ENV.sample(seed, params={"n": 8, "max_value": 10, "distractor_ratio": 0.5, "order": "sorted"})
        numbers, target = instance.state["numbers"], instance.state["target"]
        planted = Counter(int(x) for x in instance.reference.split())
        for size in range(1, len(numbers)):
            for combo in itertools.combinations(numbers, size):
                if sum(combo) == target and Counter(combo) != planted:
                    verdict = ENV.score_answer(instance, " ".join(map(str, combo)))
                    assert verdict.correct, verdict.reason
                    found_alternative = True
    assert found_alternative  # small values make alternative subsets common


def test_constraint_violations_are_named():
    instance = ENV.sample(3, level=0.5)
    numbers, target = instance.state["numbers"], instance.state["target"]
    absent = max(numbers) + 1
    overused = ENV.score_answer(instance, f"{absent} {numbers[0]}")
    assert overused.reward == 0 and "not available" in overused.reason
    everything = ENV.score_answer(instance, " ".join(map(str, numbers)))
    assert everything.reward == 0 and f"not {target}" in everything.reason
    twice = Counter(numbers).most_common(1)[0]
    repeated = ENV.score_answer(instance, " ".join([str(twice[0])] * (twice[1] + 1)))
    assert repeated.reward == 0 and "not available" in repeated.reason
    assert "integers" in ENV.score_answer(instance, "twelve").reason


def test_parameters_shape_the_instance():
    small = ENV.sample(0, level=0.0)
    large = ENV.sample(0, level=1.0)
    assert len(small.state["numbers"]) == 4 and len(large.state["numbers"]) == 40
    assert max(small.state["numbers"]) <= 10
    assert small.state["numbers"] == sorted(small.state["numbers"])  # level 0 shows them sorted
    # The planted subset never takes everything, so "all numbers" is never an answer.
    for seed in range(50):
        state = ENV.sample(seed, level=seed / 49).state
        assert 1 <= len(state["planted"]) < len(state["numbers"])


def test_reference_is_never_a_contiguous_run_of_a_sorted_prompt():
    for seed in range(50):
        instance = ENV.sample(seed, params={"order": "sorted", "n": 10})
        assert len(instance.reference.split()) >= 2  # several numbers, listed largest first
        assert instance.reference not in instance.prompt
