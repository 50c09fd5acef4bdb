"""Planted graph colouring: the plant is proper, verify accepts exactly the proper colourings."""

import json
import random

import envfoundry

ENV = envfoundry.make("graph_coloring")


def _proper(edges, colours, k):
    return all(1 <= c <= k for c in colours) and all(colours[u] != colours[v] for u, v in edges)


def test_plant_is_a_balanced_proper_colouring_of_a_simple_graph():
    for seed in range(30):
        for level in (0.0, 1.0):
            state = ENV.sample(seed, level=level).state
            n, k, edges = state["n"], state["k"], state["edges"]
            assert json.loads(json.dumps(state)) == state
            assert _proper(edges, state["hidden"], k)
            assert all(0 <= u < v < n for u, v in edges)
            assert len({tuple(e) for e in edges}) == len(edges)
            sizes = [state["hidden"].count(c) for c in range(1, k + 1)]
            assert max(sizes) - min(sizes) <= 1


def test_dense_request_uses_the_enumeration_path():
    # 10 vertices, 3 colours: only 33 bichromatic pairs, and degree 4.5 asks for 22 of them.
    state = ENV.generate(random.Random(1), vertices=10, degree=4.5, colors=3)
    assert len(state["edges"]) == 22
    assert _proper(state["edges"], state["hidden"], 3)


def test_verify_agrees_with_an_independent_check():
    rng = random.Random(0)
    accepted = 0
    for seed in range(10):
        instance = ENV.sample(seed, params={"vertices": 10, "degree": 2.5, "colors": 4})
        state = instance.state
        for _ in range(300):
            colours = [rng.randint(1, 4) for _ in range(state["n"])]
            if rng.random() < 0.1:  # now and then a colour outside 1..k
                colours[rng.randrange(len(colours))] = rng.choice([0, 5])
            verdict = ENV.score_answer(instance, " ".join(map(str, colours)))
            expected = _proper(state["edges"], colours, state["k"])
            assert verdict.correct == expected
            accepted += expected
    assert accepted > 0


def test_a_different_proper_colouring_is_accepted():
    instance = ENV.sample(4, level=1.0)
    k = instance.state["k"]
    # Renaming the colours keeps a colouring proper but changes the answer text.
    renamed = " ".join(str(c % k + 1) for c in instance.state["hidden"])
    assert renamed != instance.reference
    assert ENV.score_answer(instance, renamed).correct


def test_rejections_carry_the_right_reason():
    instance = ENV.sample(2, level=0.5)
    state = instance.state
    colours = list(state["hidden"])
    u, v = state["edges"][0]
    clash = list(colours)
    clash[v] = clash[u]
    cases = {
        "clash": clash,
        "colour_out_of_range": [state["k"] + 1] + colours[1:],
        "length": colours[:-1],
    }
    for failure, answer in cases.items():
        verdict = ENV.score_answer(instance, " ".join(map(str, answer)))
        assert verdict.reward == 0.0 and verdict.metadata.get("failure") == failure, (failure, verdict)
    assert f"{u}-{v}" in ENV.score_answer(instance, " ".join(map(str, clash))).reason
    zero = [0] + colours[1:]
    assert ENV.score_answer(instance, " ".join(map(str, zero))).metadata["failure"] == "colour_out_of_range"
    for bad in ("", "red blue", "[[", "1e999", instance.reference + " or " + instance.reference):
        assert ENV.score_answer(instance, bad).reward == 0.0
    assert not ENV.score_answer(instance, instance.reference + " " + instance.reference).correct


def test_tolerated_spellings():
    instance = ENV.sample(6, level=0.5)
    ref = instance.reference
    for variant in (ref + ".", f"[{ref}]", ref.replace(" ", ", "), ref.replace(" ", "\n")):
        assert ENV.score_answer(instance, variant).correct, variant


def test_levels_change_the_instances():
    low, high = ENV.sample(0, level=0.0), ENV.sample(0, level=1.0)
    assert low.params["vertices"] < high.params["vertices"]
    assert low.params["degree"] < high.params["degree"]
    assert low.params["colors"] > high.params["colors"] == 3
    assert len(low.state["edges"]) < len(high.state["edges"])
    assert len(high.state["edges"]) == round(high.params["degree"] * high.params["vertices"] / 2)
    assert high.reference not in high.prompt
