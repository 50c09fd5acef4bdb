"""Planted graph colouring: colour the vertices of a graph with at most k colours so that no edge
joins two vertices of the same colour.

A hidden balanced k-colouring is drawn first and edges are only placed between vertices of
different hidden colours, so a proper k-colouring always exists; ``verify`` checks every edge and
accepts *any* proper colouring, not only the planted one.
"""

from __future__ import annotations

import functools
import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register


@functools.cache
def _canonical_pairs(n: int, k: int) -> tuple[tuple[int, int], ...]:
    """Every edge allowed by the canonical colouring "vertex i has colour i % k" (pairs u < v of
    different colours). An instance picks its edges here and then relabels the vertices with a
    random permutation, which is the same as planting a random balanced colouring, without
    enumerating or rejecting pairs per instance."""
    return tuple((u, v) for u in range(n) for v in range(u + 1, n) if (v - u) % k)


@functools.cache
def _edge_labels(n: int) -> tuple[tuple[str, ...], ...]:
    """``labels[u][v] == "u-v"``: the prompt lists many edges, and formatting each one is its
    largest cost."""
    return tuple(tuple(f"{u}-{v}" for v in range(n)) for u in range(n))


@functools.cache
def _prompt_frame(n: int, k: int) -> tuple[str, str, str]:
    """The prompt text around the edge count and the edge list; only n and k change it."""
    example = " ".join(str(i % k + 1) for i in range(4))
    head = f"An undirected graph has {n} vertices, numbered 0 to {n - 1}, and these "
    middle = " edges (u-v joins vertex u and vertex v):\n"
    tail = (
        f"\n\nColour every vertex with one of the colours 1 to {k} so that the two ends of every edge get "
        f"different colours. You do not have to use every colour.\n"
        f"Answer with exactly {n} integers separated by spaces: the colour of vertex 0, then of vertex 1, "
        f"and so on up to vertex {n - 1}. Any valid colouring is accepted.\n" + answer_instruction(example + " ...")
    )
    return head, middle, tail


# str() of each colour, looked up rather than formatted: the reference is built for every instance.
_COLOUR_TEXT = tuple(str(c) for c in range(10))

# Returned for every accepted answer; the core copies what it reads, so sharing it is safe.
_PROPER = Score(1.0, "proper colouring")


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
        rand = rng.random
        pairs = _canonical_pairs(n, k)
        total = len(pairs)
        m = min(total, max(1, round(degree * n / 2)))
        # A uniform random relabelling: sorting by random keys is a uniform shuffle at a fraction
        # of rng.shuffle's cost. New vertex j is canonical vertex order[j], so the hidden colouring
        # is balanced (class sizes differ by at most one: every colour is needed and no class is a
        # tiny, easy-to-spot island); label[c] is the new name of canonical vertex c.
        keys = [rand() for _ in range(n)]
        order = sorted(range(n), key=keys.__getitem__)
        label = sorted(range(n), key=order.__getitem__)
        hidden = [c % k + 1 for c in order]
        # m distinct allowed pairs, uniformly.
        if 2 * m <= total:
            # Sparse: draw indices and drop repeats (few, since at most half are wanted).
            picked = set()
            add = picked.add
            while len(picked) < m:
                add(int(rand() * total))
        else:
            # Dense: a partial Fisher-Yates shuffle, no rejections.
            indices = list(range(total))
            for i in range(m):
                j = i + int(rand() * (total - i))
                indices[i], indices[j] = indices[j], indices[i]
            picked = indices[:m]
        # Relabel each edge, smaller end first, as the code u * n + v: integers sort fastest.
        codes = []
        for p in picked:
            a, b = pairs[p]
            u, v = label[a], label[b]
            codes.append(u * n + v if u < v else v * n + u)
        codes.sort()
        return {"n": n, "k": k, "edges": [[c // n, c % n] for c in codes], "hidden": hidden}

    def prompt(self, state: dict) -> str:
        head, middle, tail = _prompt_frame(state["n"], state["k"])
        labels = _edge_labels(state["n"])
        edges = state["edges"]
        return head + str(len(edges)) + middle + ", ".join([labels[u][v] for u, v in edges]) + tail

    def reference(self, state: dict) -> str:
        return " ".join([_COLOUR_TEXT[c] for c in state["hidden"]])

    def verify(self, state: dict, answer: str) -> Score:
        n, k = state["n"], state["k"]
        text = answer.strip().rstrip(".").strip()
        # Fast path for the spelling the prompt asks for: n one-digit colours in 1..k, each
        # followed by a single space but the last. The digits are compared as characters, which
        # judges exactly as their integer values would (and prints the same in a reason).
        colours = text[::2]
        if not (len(text) == 2 * n - 1 and text.count(" ") == n - 1 and not colours.strip("123456789"[:k])):
            colours = parse_int_list(text)
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
        return _PROPER

    def complexity(self, state: dict) -> float:
        # Vertices plus edges: the number of objects and constraints to keep consistent.
        return float(state["n"] + len(state["edges"]))


register(GraphColoring)
