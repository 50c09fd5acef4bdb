"""shortest_path: Dijkstra is right, any shortest path is accepted, violations are named."""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import random
import re
import time

import pytest

import envfoundry
from envfoundry.core import parse_int_list
from envfoundry.envs.shortest_path import ShortestPath, parse_path


@pytest.fixture(scope="module")
def env() -> ShortestPath:
    return envfoundry.make("shortest_path")


def _brute_force_cost(state: dict) -> int:
    """Cheapest simple path by trying every ordering of intermediate nodes (tiny graphs only)."""
    weight = {}
    for u, v, w in state["edges"]:
        weight[(u, v)] = weight[(v, u)] = w
    others = [v for v in range(state["nodes"]) if v not in (state["source"], state["target"])]
    best = None
    for size in range(len(others) + 1):
        for middle in itertools.permutations(others, size):
            path = [state["source"], *middle, state["target"]]
            if all(pair in weight for pair in itertools.pairwise(path)):
                cost = sum(weight[pair] for pair in itertools.pairwise(path))
                best = cost if best is None else min(best, cost)
    return best


def test_dijkstra_matches_brute_force_on_small_graphs(env):
    for seed in range(30):
        instance = env.sample(seed, params={"nodes": 7, "extra_edges": 1.0, "max_weight": 20})
        assert instance.state["optimum"] == _brute_force_cost(instance.state)
        assert env.score_answer(instance, instance.reference).correct


# Two routes of cost 4 from 0 to 3 (via 1 or via 2), a direct edge of cost 9, no edge 1-2.
STATE = {
    "nodes": 4,
    "edges": [[0, 1, 2], [0, 2, 1], [0, 3, 9], [1, 3, 2], [2, 3, 3]],
    "source": 0,
    "target": 3,
    "optimum": 4,
    "path": [0, 1, 3],
}


def test_a_different_shortest_path_earns_full_reward():
    env = ShortestPath()
    assert env.verify(STATE, "0 1 3").reward == 1.0
    assert env.verify(STATE, "0 2 3").reward == 1.0
    assert env.verify(STATE, "[0, 2, 3].").reward == 1.0
    assert env.verify(STATE, "0 -> 2 -> 3").reward == 1.0


def test_a_longer_valid_path_earns_documented_partial_credit():
    score = ShortestPath().verify(STATE, "0 3")
    assert score.reward == pytest.approx(0.5 * 4 / 9)
    assert "weight 9" in score.reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("1 3", "start at node 0"),
        ("0 1", "end at node 3"),
        ("0 7 3", "does not exist"),
        ("0 1 2 3", "no edge between 1 and 2"),
        ("0 1 0 2 3", "more than once"),
        ("0 -1 3", "node numbers"),
        ("0 1 3 or 0 2 3", "node numbers"),
        ("banana", "node numbers"),
        ("", "node numbers"),
    ],
)
def test_violations_score_zero_with_a_reason(answer, reason):
    score = ShortestPath().verify(STATE, answer)
    assert score.reward == 0.0
    assert reason in score.reason


@pytest.mark.parametrize(
    "answer",
    [
        "4 1 7 2",
        " 4  1\n7\t2 ",
        "4\x1c1",
        "123456 2",
        "1234567 2",
        "0",
        "\u0663 1",
        "[4, 1]",
        "4 -> 1",
        "4 1.",
        "-1 2",
        "+1 2",
        "",
    ],
)
def test_quick_parse_agrees_with_the_general_parser(answer):
    # parse_path skips the regular expressions for plain numbers; it must never change the result.
    assert parse_path(answer) == parse_int_list(re.sub(r"\s*(?:->|→|=>)\s*", " ", answer), negative=False, max_digits=6)


def test_shotgun_of_two_shortest_paths_is_not_full_credit():
    assert ShortestPath().verify(STATE, "0 1 3 0 2 3").reward < 1.0
    assert ShortestPath().verify(STATE, "0 1 3\n0 2 3").reward < 1.0


def test_levels_change_the_graph(env):
    easy = [env.sample(s, level=0.0).state for s in range(10)]
    hard = [env.sample(s, level=1.0).state for s in range(10)]
    assert all(s["nodes"] == 5 for s in easy) and all(s["nodes"] == 40 for s in hard)
    assert max(len(s["edges"]) for s in easy) < min(len(s["edges"]) for s in hard)
    assert max(w for s in easy for *_, w in s["edges"]) <= 9
    assert max(w for s in hard for *_, w in s["edges"]) > 9


def test_graph_is_simple_and_connected_and_state_survives_json(env):
    for seed in range(20):
        instance = env.sample(seed, level=1.0)
        state = json.loads(json.dumps(instance.state))
        pairs = [(u, v) for u, v, _ in state["edges"]]
        assert all(u < v for u, v in pairs) and len(set(pairs)) == len(pairs)
        reached, frontier = {0}, [0]
        while frontier:
            node = frontier.pop()
            for u, v in pairs:
                for a, b in ((u, v), (v, u)):
                    if a == node and b not in reached:
                        reached.add(b)
                        frontier.append(b)
        assert len(reached) == state["nodes"]
        assert len(state["path"]) >= 2
        assert env.score_answer(instance, instance.reference).correct


def test_long_run_of_spaces_before_an_arrow_is_rejected_quickly(env):
    # Regression: whitespace around the arrow pattern backtracked in quadratic time.
    instance = env.sample(0, level=0.5)
    began = time.perf_counter()
    verdict = env.score_answer(instance, "1" + " " * 150_000 + "x>")
    assert time.perf_counter() - began < 1.0
    assert verdict.reward == 0.0
    assert env.score_answer(instance, instance.reference.replace(" ", "  ->  ")).correct


def reference_generate(rng: random.Random, nodes: int, extra_edges: float, max_weight: int) -> dict:
    """The generator as first written, one draw at a time, with a textbook Dijkstra on
    (distance, node) pairs. ``ShortestPath.generate`` must make exactly these instances."""
    n = nodes
    keys = [rng.random() for _ in range(n)]
    order = sorted(range(n), key=lambda node: keys[node])
    weight = {}
    for i in range(1, n):
        x = rng.random() * i
        j = int(x)
        weight[tuple(sorted((order[i], order[j])))] = 1 + int((x - j) * max_weight)
    wanted = min(round(extra_edges * n), n * (n - 1) // 2 - (n - 1))
    attempts = 0
    while wanted > 0 and attempts < 50 * n:
        attempts += 1
        x = rng.random() * n
        u = int(x)
        x = (x - u) * n
        v = int(x)
        pair = tuple(sorted((u, v)))
        if u != v and pair not in weight:
            weight[pair] = 1 + int((x - v) * max_weight)
            wanted -= 1
    neighbours: dict[int, list[tuple[int, int]]] = {node: [] for node in range(n)}
    for (u, v), w in weight.items():
        neighbours[u].append((v, w))
        neighbours[v].append((u, w))
    source = int(rng.random() * n)
    dist, parent, settled, heap = {source: 0}, {}, [], [(0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if u in settled:
            continue
        settled.append(u)
        for v, w in neighbours[u]:
            if d + w < dist.get(v, d + w + 1):
                dist[v], parent[v] = d + w, u
                heapq.heappush(heap, (d + w, v))
    far = settled[-max(1, (n - 1) // 3) :]
    target = far[int(rng.random() * len(far))]
    path = [target]
    while path[-1] != source:
        path.append(parent[path[-1]])
    return {
        "nodes": n,
        "edges": [[u, v, w] for (u, v), w in sorted(weight.items())],
        "source": source,
        "target": target,
        "optimum": dist[target],
        "path": path[::-1],
    }


def test_generate_equals_the_straightforward_version(env):
    # The batched draws and the C loops are an optimisation: same draws, same instances.
    for params in (
        {"nodes": 5, "extra_edges": 1.5, "max_weight": 9},  # dense: many rejected pairs
        {"nodes": 25, "extra_edges": 0.3, "max_weight": 9},
        {"nodes": 40, "extra_edges": 1.5, "max_weight": 99},
    ):
        for seed in range(40):
            a, b = random.Random(seed), random.Random(seed)
            assert env.generate(a, **params) == reference_generate(b, **params), (params, seed)
            assert a.random() == b.random()  # the same number of draws


# sha256 of the JSON of instances at three levels; it changes only with ShortestPath.version.
INSTANCES_DIGEST = "7945f665a18f0b8105b2d28b441a7444845c87e757066a054647e9d848855324"


def test_instances_are_unchanged_for_this_version(env):
    digest = hashlib.sha256()
    for level in (0.0, 0.5, 1.0):
        for seed in range(15):
            digest.update(env.sample(seed, level=level).to_json().encode())
    assert env.version == 1
    assert digest.hexdigest() == INSTANCES_DIGEST
