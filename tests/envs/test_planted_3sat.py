"""Planted 3-SAT: the plant satisfies the formula, verify is exactly "every clause holds"."""

import itertools
import json
import random

import envfoundry

ENV = envfoundry.make("planted_3sat")


def _satisfies(clauses, values):
    """Independent evaluator: values[k] is the truth of xk (index 0 unused)."""
    return all(any(values[abs(lit)] == (lit > 0) for lit in clause) for clause in clauses)


def _answer(values):
    return " ".join(str(k if values[k] else -k) for k in range(1, len(values)))


def test_plant_satisfies_and_clauses_are_well_formed():
    for seed in range(30):
        state = ENV.sample(seed, level=1.0).state
        n = state["n"]
        assert json.loads(json.dumps(state)) == state
        assert _satisfies(state["clauses"], [None] + [bool(v) for v in state["planted"]])
        assert len({tuple(c) for c in state["clauses"]}) == len(state["clauses"])
        for clause in state["clauses"]:
            variables = [abs(lit) for lit in clause]
            assert len(set(variables)) == 3 and all(1 <= v <= n for v in variables)


def test_verify_matches_brute_force_on_small_formulas():
    found_other = 0
    for seed in range(6):
        instance = ENV.sample(seed, params={"n": 7, "ratio": 3.0})
        state = instance.state
        for bits in itertools.product([False, True], repeat=7):
            values = [None, *bits]
            verdict = ENV.score_answer(instance, _answer(values))
            assert verdict.correct == _satisfies(state["clauses"], values)
            if verdict.correct and _answer(values) != instance.reference:
                found_other += 1
    assert found_other > 0, "some satisfying assignment other than the plant must be accepted"


def test_rejections_carry_the_right_reason():
    instance = ENV.sample(3, params={"n": 8, "ratio": 4.0})
    ref = instance.reference.split()
    cases = {
        "length": " ".join(ref[:-1]),
        "duplicate": " ".join([ref[0], str(-int(ref[0]))] + ref[2:]),
        "unknown_variable": " ".join(ref[:-1] + ["9"]),
        "order": " ".join([ref[1], ref[0]] + ref[2:]),
    }
    for failure, answer in cases.items():
        verdict = ENV.score_answer(instance, answer)
        assert verdict.reward == 0.0 and verdict.metadata.get("failure") == failure, (failure, verdict)
    # Flip every variable: the complement violates every clause the plant makes all-true.
    state = instance.state
    values = [None] + [not v for v in state["planted"]]
    if not _satisfies(state["clauses"], values):
        verdict = ENV.score_answer(instance, _answer(values))
        assert verdict.metadata["failure"] == "unsatisfied" and "clause" in verdict.reason
    for bad in ("", "banana", "1 -2 or 3", "[[", "1e999"):
        assert ENV.score_answer(instance, bad).reward == 0.0


def test_tolerated_spellings():
    instance = ENV.sample(5, level=0.5)
    ref = instance.reference
    for variant in (ref + ".", ref + " 0", f"[{ref}]", ref.replace(" ", ", "), "  " + ref.replace(" ", "   ") + " "):
        assert ENV.score_answer(instance, variant).correct, variant
    assert not ENV.score_answer(instance, ref + " 0 0").correct
    assert not ENV.score_answer(instance, ref + "\n" + ref).correct


def test_polarity_does_not_reveal_the_plant():
    # Balanced planting: a literal agrees with the planted value about half the time.
    agree = total = 0
    for seed in range(60):
        state = ENV.sample(seed, level=1.0).state
        for clause in state["clauses"]:
            for lit in clause:
                agree += (lit > 0) == bool(state["planted"][abs(lit) - 1])
                total += 1
    assert 0.46 < agree / total < 0.54


def test_levels_change_the_instances():
    low, high = ENV.sample(0, level=0.0), ENV.sample(0, level=1.0)
    assert low.params["n"] < high.params["n"] and low.params["ratio"] < high.params["ratio"]
    assert len(low.state["clauses"]) < len(high.state["clauses"])
    assert len(high.state["clauses"]) == round(high.params["n"] * high.params["ratio"])
    assert high.reference not in high.prompt


def test_generation_is_deterministic_and_uses_only_rng():
    a = ENV.generate(random.Random(7), n=20, ratio=4.0)
    b = ENV.generate(random.Random(7), n=20, ratio=4.0)
    assert a == b
