"""course_schedule: Kahn's reference is a valid order, and verify accepts any valid order only."""

import itertools
import random

import envfoundry
from envfoundry.envs.course_schedule import topological_order

ENV = envfoundry.make("course_schedule")


def is_valid(order, state):
    position = {c: i for i, c in enumerate(order)}
    return sorted(order) == list(range(1, state["n"] + 1)) and all(position[b] < position[a] for b, a in state["edges"])


def test_reference_matches_brute_force_on_small_instances():
    for seed in range(30):
        inst = ENV.sample(seed, params={"n_courses": 6, "chain": 0.5, "prereqs_per_course": 1.0})
        valid = [p for p in itertools.permutations(range(1, 7)) if is_valid(p, inst.state)]
        assert valid, "the generator must always produce a schedulable DAG"
        reference = tuple(int(t) for t in inst.reference.split())
        # Kahn's with the smallest course first gives the lexicographically smallest valid order.
        assert reference == min(valid)
        for order in valid:
            assert ENV.score_answer(inst, " ".join(map(str, order))).correct
        for order in itertools.islice(itertools.permutations(range(1, 7)), 200):
            if not is_valid(order, inst.state):
                assert ENV.score_answer(inst, " ".join(map(str, order))).reward == 0.0


def test_a_different_valid_order_is_accepted():
    accepted_other = 0
    for seed in range(20):
        inst = ENV.sample(seed, level=1.0)
        # Kahn's with the largest course first: another valid order, usually not the reference.
        reference = topological_order(inst.state["n"], inst.state["edges"])
        rev = _largest_first(inst.state)
        assert is_valid(rev, inst.state)
        assert ENV.score_answer(inst, " ".join(map(str, rev))).correct
        accepted_other += rev != reference
    assert accepted_other > 15


def _largest_first(state):
    n, edges = state["n"], state["edges"]
    indegree = {c: 0 for c in range(1, n + 1)}
    for _, a in edges:
        indegree[a] += 1
    order = []
    while len(order) < n:
        course = max(c for c, d in indegree.items() if d == 0 and c not in order)
        order.append(course)
        for b, a in edges:
            if b == course:
                indegree[a] -= 1
    return order


def test_specific_violations_are_rejected_with_reasons():
    inst = ENV.sample(3, level=0.5)
    ref = inst.reference.split()
    before, after = inst.state["edges"][0]
    swapped = [str(after) if t == str(before) else str(before) if t == str(after) else t for t in ref]
    verdict = ENV.score_answer(inst, " ".join(swapped))
    assert verdict.reward == 0 and "prerequisite" in verdict.reason
    assert "more than once" in ENV.score_answer(inst, " ".join(ref + ref[:1])).reason
    assert "missing" in ENV.score_answer(inst, " ".join(ref[:-1])).reason
    assert "unknown" in ENV.score_answer(inst, " ".join(ref + ["99"])).reason
    assert ENV.score_answer(inst, "C1 C2").reward == 0
    # Brackets and commas are tolerated.
    assert ENV.score_answer(inst, "[" + ", ".join(ref) + "]").correct
    # Plain digits-and-spaces answers take a shortcut in verify; it must judge like the parser.
    assert ENV.score_answer(inst, " ".join(["0" + ref[0], *ref[1:]])).correct
    over_long = ENV.score_answer(inst, " ".join(["0" * 70 + ref[0], *ref[1:]]))
    assert over_long.reward == 0 and "course numbers" in over_long.reason
    assert "unknown" in ENV.score_answer(inst, " ".join(["0", *ref])).reason


def test_level_zero_is_a_chain_with_a_unique_order():
    for seed in range(10):
        inst = ENV.sample(seed, level=0.0)
        assert inst.state["n"] == 5 and len(inst.state["edges"]) == 4
        valid = [p for p in itertools.permutations(range(1, 6)) if is_valid(p, inst.state)]
        assert len(valid) == 1


def test_parameters_change_the_instances():
    small, big = ENV.sample(0, level=0.0), ENV.sample(0, level=1.0)
    assert small.state["n"] == 5 and big.state["n"] == 40
    assert len(big.state["edges"]) > 60 > len(small.state["edges"])
    dense = ENV.sample(1, params={"n_courses": 30, "prereqs_per_course": 2.5})
    sparse = ENV.sample(1, params={"n_courses": 30, "prereqs_per_course": 1.0})
    assert len(dense.state["edges"]) > len(sparse.state["edges"]) + 20
    assert "must be taken before" in ENV.sample(0, params={"listing": "pairs"}).prompt
    assert "requires" in ENV.sample(0, params={"listing": "grouped"}).prompt


def test_state_survives_a_json_round_trip_and_random_orders_rarely_pass():
    rng = random.Random(0)
    inst = ENV.sample(5, level=1.0)
    copy = envfoundry.Instance.from_json(inst.to_json())
    assert ENV.score_answer(copy, inst.reference).correct
    courses = list(range(1, 41))
    hits = 0
    for _ in range(200):
        rng.shuffle(courses)
        hits += ENV.score_answer(inst, " ".join(map(str, courses))).correct
    assert hits == 0
