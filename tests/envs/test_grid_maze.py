"""grid_maze: BFS optimum is right, the carving makes a connected tree, verify simulates the walk."""

from __future__ import annotations

import hashlib
import random
from collections import deque

import envfoundry
from envfoundry.envs.grid_maze import _NEWEST_BIAS, MOVES, carve, open_loops

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


def reference_carve(rng: random.Random, width: int, height: int) -> int:
    """The growing tree as first written, cell by cell over (row, column) pairs: per option, the
    neighbour and the five cells around it on the far side must all be closed; a reservoir
    sample picks among the options. ``carve`` must make exactly these mazes from the same draws."""
    steps = list(MOVES.values())
    cells = [(r, c) for r in range(height) for c in range(width)]

    def inside(cell: tuple[int, int]) -> bool:
        return 0 <= cell[0] < height and 0 <= cell[1] < width

    def options(cell: tuple[int, int], came: int | None) -> list[tuple[tuple[int, int], int]]:
        found = []
        for move, (dr, dc) in enumerate(steps):
            tr, tc = cell[0] + dr, cell[1] + dc
            if (came is not None and steps[came] == (-dr, -dc)) or not inside((tr, tc)):
                continue
            around = [(tr, tc), (tr + dr, tc + dc), (tr + dc, tc + dr), (tr - dc, tc - dr),
                      (tr + dr + dc, tc + dc + dr), (tr + dr - dc, tc + dc - dr)]  # fmt: skip
            if not any(inside(p) and p in opened for p in around):
                found.append(((tr, tc), move))
        return found

    first = cells[int(rng.random() * len(cells))]
    opened = {first}
    active: list[tuple[tuple[int, int], int | None]] = [(first, None)]
    while active:
        index = len(active) - 1 if rng.random() < _NEWEST_BIAS else int(rng.random() * len(active))
        valid = options(*active[index])
        chosen = None
        for k, option in enumerate(valid, start=1):
            if k == 1 or rng.random() * k < 1:
                chosen = option
        if len(valid) < 2:
            del active[index]
        if chosen is not None:
            opened.add(chosen[0])
            active.append(chosen)
    return sum(1 << ((r + 1) * (width + 1) + c) for r, c in opened)


def reference_open_loops(rng: random.Random, opened: int, width: int, height: int, share: float) -> int:
    """Knocking out walls as first written: the walls between two corridors in a straight line,
    in cell order, then a partial Fisher-Yates shuffle."""

    def is_open(r: int, c: int) -> bool:
        return 0 <= r < height and 0 <= c < width and bool(opened >> ((r + 1) * (width + 1) + c) & 1)

    walls = [
        (r, c)
        for r in range(height)
        for c in range(width)
        if not is_open(r, c) and (is_open(r, c - 1) and is_open(r, c + 1)) != (is_open(r - 1, c) and is_open(r + 1, c))
    ]
    for i in range(round(share * len(walls))):
        j = i + int(rng.random() * (len(walls) - i))
        walls[i], walls[j] = walls[j], walls[i]
        opened |= 1 << ((walls[i][0] + 1) * (width + 1) + walls[i][1])
    return opened


def test_carving_and_loops_equal_the_straightforward_versions():
    # The bit-set carving is an optimisation: same draws, same mazes (instances keep their version).
    for width, height in ((5, 5), (7, 7), (8, 5), (13, 9), (25, 25)):
        for seed in range(40 if width < 25 else 8):
            a, b = random.Random(seed), random.Random(seed)
            opened = carve(a, width, height)
            assert opened == reference_carve(b, width, height), (width, height, seed)
            share = (0.05, 0.12, 0.3)[seed % 3]
            assert open_loops(a, opened, width, height, share) == reference_open_loops(b, opened, width, height, share)
            assert a.random() == b.random()  # the same number of draws


def test_verify_of_the_reference_equals_the_full_walk():
    # verify skips the walk for the stored route; walking it must give the same judgement.
    for seed in range(20):
        state = ENV.sample(seed, level=0.5).state
        walked = dict(state, solution="")  # no shortcut: parse and walk
        for answer in (state["solution"], state["solution"].lower(), " ".join(state["solution"])):
            assert ENV.verify(state, answer) == ENV.verify(walked, answer)
            assert ENV.verify(state, answer).reward == 1.0


def test_prompt_board_spaces_every_cell():
    state = hand_state()
    assert "S . . #\n. # . #\n. . . G" in ENV.prompt(state)
    odd = dict(state, grid=["S.é", "..G"])  # not ASCII: the plain join
    assert "S . é\n. . G" in ENV.prompt(odd)


# sha256 of the JSON of instances at three levels; it changes only with GridMaze.version.
INSTANCES_DIGEST = "0b6c1777752a7beafd05a765b9325d072a23e0857dbe64bd39be7dae760a3bb4"


def test_instances_are_unchanged_for_this_version():
    digest = hashlib.sha256()
    for level in (0.0, 0.5, 1.0):
        for seed in range(15):
            digest.update(ENV.sample(seed, level=level).to_json().encode())
    assert ENV.version == 1
    assert digest.hexdigest() == INSTANCES_DIGEST
