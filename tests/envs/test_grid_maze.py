"""grid_maze: BFS optimum is right, the carving makes a connected tree, verify simulates the walk."""

from __future__ import annotations

import random
from collections import deque

import envfoundry
from envfoundry.envs.grid_maze import MOVES, carve, open_loops

ENV = envfoundry.make("grid_maze")


def distances(grid: list[str], start: tuple[int, int]) -> dict[tuple[int, int], int]:
    """Independent BFS over (row, column) cells, for checking the environment's own."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES.values():
            n = (r + dr, c + dc)
            if 0 <= n[0] < len(grid) and 0 <= n[1] < len(grid[0]) and grid[n[0]][n[1]] != "#" and n not in dist:
                dist[n] = dist[(r, c)] + 1
                queue.append(n)
    return dist


def all_shortest_routes(state: dict, limit: int = 50) -> list[str]:
    """Up to ``limit`` shortest move strings from S to G, by walking down the BFS distance layers."""
    grid, start, goal = state["grid"], tuple(state["start"]), tuple(state["goal"])
    to_goal = distances(grid, goal)
    routes: list[str] = []

    def extend(cell: tuple[int, int], moves: str) -> None:
        if len(routes) >= limit:
            return
        if cell == goal:
            routes.append(moves)
            return
        for letter, (dr, dc) in MOVES.items():
            n = (cell[0] + dr, cell[1] + dc)
            if to_goal.get(n) == to_goal[cell] - 1:
                extend(n, moves + letter)

    extend(start, "")
    return routes


def open_cells(bits: int, width: int, height: int) -> list[int]:
    """1 or 0 for each cell in row-major order, from a bit set with the frame of ``_layout``."""
    return [(bits >> ((i // width + 1) * (width + 1) + i % width)) & 1 for i in range(width * height)]


def hand_state() -> dict:
    grid = [
        "S..#",
        ".#.#",
        "...G",
    ]
    return {"grid": grid, "start": [0, 0], "goal": [2, 3], "optimal": 5, "solution": "DDRRR"}


def test_optimum_matches_an_independent_bfs_and_reference_is_shortest():
    for level in (0.0, 0.5, 1.0):
        for seed in range(30):
            inst = ENV.sample(seed, level=level)
            state = inst.state
            dist = distances(state["grid"], tuple(state["start"]))
            assert dist[tuple(state["goal"])] == state["optimal"] == len(inst.reference) >= 2
            assert ENV.score_answer(inst, inst.reference).correct
            assert sum(row.count("S") for row in state["grid"]) == 1
            assert sum(row.count("G") for row in state["grid"]) == 1


def test_carving_gives_a_connected_tree_and_loops_add_cycles():
    for seed in range(20):
        rng = random.Random(seed)
        width, height = 13, 9
        opened = carve(rng, width, height)
        is_open = open_cells(opened, width, height)
        cells = [(i // width, i % width) for i in range(width * height) if is_open[i]]
        edges = sum(
            1
            for r, c in cells
            for nr, nc in ((r + 1, c), (r, c + 1))
            if nr < height and nc < width and is_open[nr * width + nc]
        )
        assert edges == len(cells) - 1  # a tree: connected (checked below) and without cycles
        grid = ["".join("." if is_open[r * width + c] else "#" for c in range(width)) for r in range(height)]
        assert len(distances(grid, cells[0])) == len(cells)
        looped = open_loops(rng, opened, width, height, 0.3)
        assert looped & opened == opened
        is_open = open_cells(looped, width, height)
        more = sum(
            1
            for i in range(width * height)
            if is_open[i]
            for j in (i + width, i + 1 if (i + 1) % width else -1)
            if 0 <= j < width * height and is_open[j]
        )
        assert more > sum(is_open) - 1
        assert sum(is_open) == looped.bit_count()  # nothing opened on the frame


def test_a_different_shortest_route_is_accepted():
    found = 0
    for seed in range(40):
        inst = ENV.sample(seed, params={"width": 11, "height": 11, "loops": 0.12, "goal_distance": 1.0})
        routes = all_shortest_routes(inst.state)
        others = [r for r in routes if r != inst.reference]
        for route in others[:5]:
            assert ENV.score_answer(inst, route).correct
            found += 1
    assert found > 10


def test_perfect_maze_has_a_unique_shortest_route():
    for seed in range(10):
        inst = ENV.sample(seed, params={"width": 15, "height": 15, "loops": 0.0, "goal_distance": 0.7})
        assert all_shortest_routes(inst.state) == [inst.reference]


def test_violations_are_rejected_with_reasons():
    state = hand_state()
    inst = envfoundry.Instance("grid_maze", 1, 0, {}, "", state["solution"], state)
    assert ENV.score_answer(inst, "DDRRR").correct
    assert ENV.score_answer(inst, "RRDDR").correct  # the other shortest route
    assert ENV.score_answer(inst, "d, d, r, r, r.").correct
    assert ENV.score_answer(inst, "[D D R R R]").correct
    wall = ENV.score_answer(inst, "RRR")
    assert wall.reward == 0 and "move 3 (R) runs into the wall" in wall.reason
    off = ENV.score_answer(inst, "UDDRRR")
    assert off.reward == 0 and "move 1 (U) leaves the grid" in off.reason
    short = ENV.score_answer(inst, "DDRR")
    assert short.reward == 0 and "not on G" in short.reason
    longer = ENV.score_answer(inst, "DDRRRLR")
    assert longer.reward == 0.5 * 5 / 7 and not longer.correct and "5 are enough" in longer.reason
    assert "move 6 (U) runs into the wall" in ENV.score_answer(inst, "DDRRRU").reason  # G does not end the walk
    for bad in ("", "DDRRR or DDRRR", "DDRRR DDRRX", "down down right right right", "5", "DDRRR!"):
        verdict = ENV.score_answer(inst, bad)
        assert verdict.reward == 0 and "letters" in verdict.reason, bad
    # A shotgun of two routes is one long walk: it never earns full reward.
    assert not ENV.score_answer(inst, "DDRRR, RRDDR").correct


def test_parameters_change_the_instances():
    easy = [ENV.sample(s, level=0.0).state for s in range(30)]
    hard = [ENV.sample(s, level=1.0).state for s in range(30)]
    assert all(len(s["grid"]) == 5 and len(s["grid"][0]) == 5 for s in easy)
    assert all(len(s["grid"]) == 25 and len(s["grid"][0]) == 25 for s in hard)
    assert sum(s["optimal"] for s in hard) > 8 * sum(s["optimal"] for s in easy)
    # goal_distance=1 puts G on a cell farthest from S.
    for s in hard:
        assert s["optimal"] == max(distances(s["grid"], tuple(s["start"])).values())


def test_prompt_shows_the_grid_and_an_example_that_is_never_right():
    for seed in range(30):
        inst = ENV.sample(seed, level=0.0)
        for row in inst.state["grid"]:
            assert " ".join(row) in inst.prompt
        example = inst.prompt.split("for example <answer>")[1].split("</answer>")[0]
        assert not ENV.score_answer(inst, example).correct
