"""Shortest path: the cheapest route between two nodes of a weighted undirected graph.

The graph is a random spanning tree (so every node is reachable) plus extra random edges, with
positive integer weights. Dijkstra's algorithm computes the optimum cost at generation time;
``verify`` walks the submitted path edge by edge, so *any* path of optimal cost earns full reward.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register

# Arrows are a natural way to write a path; they are read as plain separators.
_ARROW_RE = re.compile(r"\s*(?:->|→|=>)\s*")
# A valid but costlier path earns at most this much, scaled by how close its cost is to the optimum.
PARTIAL_CAP = 0.5


def dijkstra(n: int, adjacency: list[list[tuple[int, int]]], source: int) -> tuple[list[float], list[int]]:
    """Distances and shortest-path-tree parents from ``source`` (parent -1 for the source/unreached)."""
    dist = [math.inf] * n
    parent = [-1] * n
    dist[source] = 0
    heap = [(0, source)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, u = pop(heap)
        if d > dist[u]:
            continue
        for v, w in adjacency[u]:
            nd = d + w
            if nd < dist[v]:
                dist[v] = nd
                parent[v] = u
                push(heap, (nd, v))
    return dist, parent


def parse_path(answer: str) -> list[int] | None:
    """Node numbers separated by spaces (commas or arrows tolerated), optionally in brackets; else None."""
    return parse_int_list(_ARROW_RE.sub(" ", answer), negative=False, max_digits=6)


class ShortestPath(Environment):
    """Find a cheapest path between two nodes of a weighted undirected graph (edges can be walked
    both ways; weights are positive integers). The answer is the sequence of node numbers from the
    source to the target. Any path whose total weight equals the optimum (computed by Dijkstra)
    earns 1.0. Partial credit: a valid simple path from source to target that costs more earns
    0.5 * optimum / cost (always below 0.5); anything else (a missing edge, a repeated node, wrong
    endpoints, unknown nodes) earns 0."""

    name = "shortest_path"
    asymmetry = "algorithmic"
    family = "graphs"
    space = {
        "nodes": IntParam(5, 40, description="number of nodes in the graph"),
        "extra_edges": FloatParam(
            0.3, 1.5, description="edges added on top of a random spanning tree, per node (more routes to compare)"
        ),
        "max_weight": IntParam(9, 99, description="edge weights are drawn from [1, max_weight]"),
    }

    def generate(self, rng: random.Random, nodes: int, extra_edges: float, max_weight: int) -> dict:
        n = nodes
        # int(rand() * k) draws from range(k) several times faster than rng.randint, which
        # dominated sampling time; it still uses only ``rng``.
        rand = rng.random
        # A random recursive tree over shuffled labels keeps the graph connected without
        # making the labels hint at its structure.
        keys = [rand() for _ in range(n)]
        order = sorted(range(n), key=keys.__getitem__)
        present: set[tuple[int, int]] = set()
        edges: list[list[int]] = []
        for i in range(1, n):
            u, v = order[i], order[int(rand() * i)]
            key = (u, v) if u < v else (v, u)
            present.add(key)
            edges.append([key[0], key[1], 1 + int(rand() * max_weight)])
        wanted = min(round(extra_edges * n), n * (n - 1) // 2 - (n - 1))
        attempts = 0
        while wanted > 0 and attempts < 50 * n:
            attempts += 1
            u, v = int(rand() * n), int(rand() * n)
            key = (u, v) if u < v else (v, u)
            if u == v or key in present:
                continue
            present.add(key)
            edges.append([key[0], key[1], 1 + int(rand() * max_weight)])
            wanted -= 1
        edges.sort()
        adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for u, v, w in edges:
            adjacency[u].append((v, w))
            adjacency[v].append((u, w))
        source = int(rand() * n)
        dist, parent = dijkstra(n, adjacency, source)
        # The target is drawn from the farthest third of the nodes, so the route is never trivial.
        by_distance = sorted((d, v) for v, d in enumerate(dist) if v != source)
        far = by_distance[-max(1, len(by_distance) // 3) :]
        target = far[int(rand() * len(far))][1]
        path = [target]
        while path[-1] != source:
            path.append(parent[path[-1]])
        path.reverse()
        return {
            "nodes": n,
            "edges": edges,
            "source": source,
            "target": target,
            "optimum": int(dist[target]),
            "path": path,
        }

    def prompt(self, state: dict) -> str:
        n = state["nodes"]
        # "u-v (w)" keeps every number bounded by punctuation, so lines never run together.
        lines = "\n".join(f"{u}-{v} ({w})" for u, v, w in state["edges"])
        return (
            f"An undirected weighted graph has {n} nodes, numbered 0 to {n - 1}, and "
            f"{len(state['edges'])} edges. Each line below, written u-v (w), is an edge between nodes "
            f"u and v with weight w; an edge can be travelled in either direction.\n\n"
            f"{lines}\n\n"
            f"Find a path from node {state['source']} to node {state['target']} whose total weight "
            f"(the sum of the weights of its edges) is as small as possible. Answer with the node "
            f"numbers along the path, starting with {state['source']} and ending with {state['target']}, "
            f"separated by spaces.\n" + answer_instruction("4 1 7 2")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["path"]))

    def verify(self, state: dict, answer: str) -> Score:
        path = parse_path(answer)
        if path is None:
            return Score(0.0, "answer must be node numbers separated by spaces")
        source, target, n = state["source"], state["target"], state["nodes"]
        if path[0] != source:
            return Score(0.0, f"the path must start at node {source}, not {path[0]}")
        if path[-1] != target:
            return Score(0.0, f"the path must end at node {target}, not {path[-1]}")
        unknown = [v for v in path if v >= n]
        if unknown:
            return Score(0.0, f"node {unknown[0]} does not exist")
        if len(set(path)) != len(path):
            return Score(0.0, "the path visits a node more than once")
        weight = {}
        for u, v, w in state["edges"]:
            weight[u * n + v] = w
            weight[v * n + u] = w
        cost = 0
        for u, v in itertools.pairwise(path):
            w = weight.get(u * n + v)
            if w is None:
                return Score(0.0, f"there is no edge between {u} and {v}")
            cost += w
        optimum = state["optimum"]
        if cost == optimum:
            return Score(1.0, f"a shortest path (total weight {cost})", {"cost": cost})
        return Score(
            PARTIAL_CAP * optimum / cost,
            f"a valid path of total weight {cost}, but the shortest has weight {optimum}",
            {"cost": cost, "optimum": optimum},
        )

    def complexity(self, state: dict) -> float:
        # Nodes plus edges: the size of the graph Dijkstra has to scan.
        return float(state["nodes"] + len(state["edges"]))


register(ShortestPath)
