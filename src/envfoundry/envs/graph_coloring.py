"""Planted graph colouring: colour the vertices of a graph with at most k colours so that no edge
joins two vertices of the same colour.

A hidden balanced k-colouring is drawn first and edges are only placed between vertices of
different hidden colours, so a proper k-colouring always exists; ``verify`` checks every edge and
accepts *any* proper colouring, not only the planted one.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register


class GraphColoring(Environment):
    """Colour the vertices of an undirected graph with colours 1..k so that the two ends of every
    edge get different colours. The graph hides a k-colouring, so one always exists; any proper
    colouring is accepted. The answer lists the colour of every vertex in vertex order (vertex 0
    first), separated by spaces. Reward is 0 or 1: no partial credit, since a colouring with a
    few clashes is not a colouring."""

    name = "graph_coloring"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "vertices": IntParam(10, 40, description="number of vertices"),
        "degree": FloatParam(
            2.5, 4.5, description="average vertex degree (edge density); about 4.7 is the hardest region for 3 colours"
        ),
        "colors": IntParam(3, 4, harder="down", description="colours allowed (k); fewer colours are harder"),
    }

    def generate(self, rng: random.Random, vertices: int, degree: float, colors: int) -> dict:
        n, k = vertices, colors
        # Balanced classes (sizes differ by at most one): every colour is needed and no class is a
        # tiny, easy-to-spot island.
        rand = rng.random
        hidden = [i % k + 1 for i in range(n)]
        # Sorting by random keys is a uniform shuffle at a fraction of rng.shuffle's cost.
        keys = [rand() for _ in range(n)]
        hidden = [colour for _, colour in sorted(zip(keys, hidden, strict=True))]
        sizes = [hidden.count(c) for c in range(1, k + 1)]
        allowed = n * (n - 1) // 2 - sum(size * (size - 1) // 2 for size in sizes)
        m = min(allowed, max(1, round(degree * n / 2)))
        if 2 * m <= allowed:
            # Sparse: draw random pairs and keep new bichromatic ones (few rejections, no O(n^2) list).
            chosen: set[tuple[int, int]] = set()
            while len(chosen) < m:
                u, v = int(rand() * n), int(rand() * n)
                if hidden[u] != hidden[v]:
                    chosen.add((u, v) if u < v else (v, u))
            edges = sorted(chosen)
        else:
            pairs = [(u, v) for u in range(n) for v in range(u + 1, n) if hidden[u] != hidden[v]]
            edges = sorted(rng.sample(pairs, m))
        return {"n": n, "k": k, "edges": [[u, v] for u, v in edges], "hidden": hidden}

    def prompt(self, state: dict) -> str:
        n, k = state["n"], state["k"]
        edges = ", ".join(f"{u}-{v}" for u, v in state["edges"])
        example = " ".join(str(i % k + 1) for i in range(4))
        return (
            f"An undirected graph has {n} vertices, numbered 0 to {n - 1}, and these {len(state['edges'])} "
            f"edges (u-v joins vertex u and vertex v):\n{edges}\n\n"
            f"Colour every vertex with one of the colours 1 to {k} so that the two ends of every edge get "
            f"different colours. You do not have to use every colour.\n"
            f"Answer with exactly {n} integers separated by spaces: the colour of vertex 0, then of vertex 1, "
            f"and so on up to vertex {n - 1}. Any valid colouring is accepted.\n" + answer_instruction(example + " ...")
        )

    def reference(self, state: dict) -> str:
        return " ".join(str(c) for c in state["hidden"])

    def verify(self, state: dict, answer: str) -> Score:
        n, k = state["n"], state["k"]
        colours = parse_int_list(answer.strip().rstrip(".").strip())
        if colours is None:
            return Score(0.0, f"answer must be {n} integers (colours 1..{k}) separated by spaces")
        if len(colours) != n:
            return Score(
                0.0, f"expected one colour for each of the {n} vertices, got {len(colours)}", {"failure": "length"}
            )
        for vertex, colour in enumerate(colours):
            if not 1 <= colour <= k:
                return Score(
                    0.0, f"vertex {vertex} has colour {colour}, outside 1..{k}", {"failure": "colour_out_of_range"}
                )
        for u, v in state["edges"]:
            if colours[u] == colours[v]:
                return Score(0.0, f"edge {u}-{v} joins two vertices of colour {colours[u]}", {"failure": "clash"})
        return Score(1.0, "proper colouring")

    def complexity(self, state: dict) -> float:
        # Vertices plus edges: the number of objects and constraints to keep consistent.
        return float(state["n"] + len(state["edges"]))


register(GraphColoring)
