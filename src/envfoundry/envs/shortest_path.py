"""Shortest path: the cheapest route between two nodes of a weighted undirected graph.

The graph is a random spanning tree (so every node is reachable) plus extra random edges, with
positive integer weights. Dijkstra's algorithm computes the optimum cost at generation time;
``verify`` walks the submitted path edge by edge, so *any* path of optimal cost earns full reward.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from itertools import islice, pairwise, repeat, starmap
from math import trunc

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register

# Arrows are a natural way to write a path; they are read as plain separators. No whitespace
# around them in the pattern: a failing match would backtrack over long runs of spaces (quadratic).
_ARROW_RE = re.compile(r"->|→|=>")
# A valid but costlier path earns at most this much, scaled by how close its cost is to the optimum.
PARTIAL_CAP = 0.5
_INSTRUCTION = answer_instruction("4 1 7 2")
MAX_NODES = 40
MAX_WEIGHT = 99
MAX_DIGITS = 6
# Every "u-v (" and "w)" the prompt can need, built once: formatting three numbers per edge line
# was most of the prompt's cost.
_PAIR_TEXT = [[f"{u}-{v} (" for v in range(MAX_NODES)] for u in range(MAX_NODES)]
_WEIGHT_TEXT = [f"{w})" for w in range(MAX_WEIGHT + 1)]


def dijkstra(n: int, adjacency: list[list[tuple[int, int]]], source: int) -> tuple[list[float], list[int], list[int]]:
    """Distances, shortest-path-tree parents (-1 for the source and unreached nodes) and the
    reached nodes in the order Dijkstra settles them: by distance, ties by node number."""
    dist = [math.inf] * n
    parent = [-1] * n
    settled = []
    dist[source] = 0
    # A heap entry is ``d << bits | v``: plain ints sort like (d, v) tuples and compare faster.
    bits = n.bit_length()
    mask = (1 << bits) - 1
    heap = [source]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        entry = pop(heap)
        u = entry & mask
        d = entry >> bits
        if d > dist[u]:  # a stale entry: u was settled at a smaller distance
            continue
        settled.append(u)
        for v, w in adjacency[u]:
            nd = d + w
            if nd < dist[v]:
                dist[v] = nd
                parent[v] = u
                push(heap, nd << bits | v)
    return dist, parent, settled


def parse_path(answer: str) -> list[int] | None:
    """Node numbers separated by spaces (commas or arrows tolerated), optionally in brackets; else None."""
    # The usual shape, ASCII numbers between whitespace, skips the regular expressions; it gives
    # the same result as the general parser below.
    tokens = answer.split()
    if tokens and answer.isascii() and "".join(tokens).isdigit() and max(map(len, tokens)) <= MAX_DIGITS:
        return list(map(int, tokens))
    if ">" in answer or "→" in answer:  # every arrow has one of these
        answer = _ARROW_RE.sub(" ", answer)
    return parse_int_list(answer, negative=False, max_digits=MAX_DIGITS)


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
        "nodes": IntParam(5, MAX_NODES, description="number of nodes in the graph"),
        "extra_edges": FloatParam(
            0.3, 1.5, description="edges added on top of a random spanning tree, per node (more routes to compare)"
        ),
        "max_weight": IntParam(9, MAX_WEIGHT, description="edge weights are drawn from [1, max_weight]"),
    }

    def generate(self, rng: random.Random, nodes: int, extra_edges: float, max_weight: int) -> dict:
        n = nodes
        # Draws are trunc(rand() * k) rather than rng.randint, several times faster (trunc is
        # int() for a float, at a third of the cost: int() is a type call). One draw also serves
        # several small choices: once the integer part of x = rand() * k is taken, the fractional
        # part is again uniform (with about log2(k) of its 53 bits used up), so it is rescaled for
        # the next choice. Calls into ``rng`` dominated generation time.
        rand = rng.random
        # The labels' sort keys and one draw per tree edge, all made in one C loop.
        draws = list(starmap(rand, repeat((), 2 * n - 1)))
        # A random recursive tree over shuffled labels keeps the graph connected without
        # making the labels hint at its structure: tree edge i joins order[i] to an earlier node.
        order = sorted(range(n), key=draws.__getitem__)
        adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        # Edges by pair number u * n + v (u < v), which both rejects duplicates and sorts them.
        edges: dict[int, list[int]] = {}
        i = 0
        for x in islice(draws, n, None):
            i += 1
            x *= i
            j = trunc(x)
            w = 1 + trunc((x - j) * max_weight)
            u, v = order[i], order[j]
            if u > v:
                u, v = v, u
            edges[u * n + v] = [u, v, w]
            adjacency[u].append((v, w))
            adjacency[v].append((u, w))
        wanted = min(round(extra_edges * n), n * (n - 1) // 2 - (n - 1))
        attempts = 50 * n
        while wanted > 0 and attempts > 0:
            # As many draws in one C loop as edges are still wanted; a rejected pair leaves the rest
            # for the next batch, so the draws are exactly those of one at a time.
            batch = min(wanted, attempts)
            attempts -= batch
            for x in starmap(rand, repeat((), batch)):
                x *= n
                u = trunc(x)
                x = (x - u) * n
                v = trunc(x)
                if u == v:
                    continue
                w = 1 + trunc((x - v) * max_weight)
                if u > v:
                    u, v = v, u
                key = u * n + v
                if key in edges:
                    continue
                edges[key] = [u, v, w]
                adjacency[u].append((v, w))
                adjacency[v].append((u, w))
                wanted -= 1
        source = trunc(rand() * n)
        dist, parent, settled = dijkstra(n, adjacency, source)
        # The target is drawn from the farthest third of the other nodes, so the route is never
        # trivial; ``settled`` already lists them by distance, the source first.
        far = settled[-max(1, (n - 1) // 3) :]
        target = far[trunc(rand() * len(far))]
        path = [target]
        while path[-1] != source:
            path.append(parent[path[-1]])
        path.reverse()
        return {
            "nodes": n,
            "edges": list(map(edges.__getitem__, sorted(edges))),
            "source": source,
            "target": target,
            "optimum": dist[target],
            "path": path,
        }

    def prompt(self, state: dict) -> str:
        n = state["nodes"]
        edges = state["edges"]
        # "u-v (w)" keeps every number bounded by punctuation, so lines never run together.
        pair_text, weight_text = _PAIR_TEXT, _WEIGHT_TEXT
        lines = "\n".join([pair_text[u][v] + weight_text[w] for u, v, w in edges])
        source, target = state["source"], state["target"]
        return (
            f"An undirected weighted graph has {n} nodes, numbered 0 to {n - 1}, and "
            f"{len(edges)} edges. Each line below, written u-v (w), is an edge between nodes "
            f"u and v with weight w; an edge can be travelled in either direction.\n\n"
            f"{lines}\n\n"
            f"Find a path from node {source} to node {target} whose total weight "
            f"(the sum of the weights of its edges) is as small as possible. Answer with the node "
            f"numbers along the path, starting with {source} and ending with {target}, "
            f"separated by spaces.\n{_INSTRUCTION}"
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["path"]))

    def verify(self, state: dict, answer: str) -> Score:
        path = parse_path(answer)
        if path is None:
            return Score(0.0, "answer must be node numbers separated by spaces")
        optimum = state["optimum"]
        if path == state["path"]:
            # The stored path is the one Dijkstra found: valid and of optimal cost by construction,
            # so the edge-by-edge walk below (most of verify's time) would only confirm it.
            return Score(1.0, f"a shortest path (total weight {optimum})", {"cost": optimum})
        source, target, n = state["source"], state["target"], state["nodes"]
        if path[0] != source:
            return Score(0.0, f"the path must start at node {source}, not {path[0]}")
        if path[-1] != target:
            return Score(0.0, f"the path must end at node {target}, not {path[-1]}")
        if max(path) >= n:
            return Score(0.0, f"node {next(v for v in path if v >= n)} does not exist")
        if len(set(path)) != len(path):
            return Score(0.0, "the path visits a node more than once")
        # Edges are keyed as listed; a path may walk each one either way.
        weight = {(u, v): w for u, v, w in state["edges"]}
        get = weight.get
        cost = 0
        for step in pairwise(path):
            w = get(step)
            if w is None:
                u, v = step
                w = get((v, u))
                if w is None:
                    return Score(0.0, f"there is no edge between {u} and {v}")
            cost += w
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
