"""Grid maze: walk from S to G through a maze of walls by a shortest route.

The maze is carved on the cell grid itself (a randomized growing tree that keeps corridors one cell
wide), then some walls between two corridors are knocked out to make loops. Breadth-first search
gives the optimal number of moves; ``verify`` walks the submitted moves cell by cell, so *any*
shortest route earns full reward.
"""

from __future__ import annotations

import math
import random
from collections import deque

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_moves, register

WALL, OPEN, START, GOAL = "#", ".", "S", "G"
# Row and column change of each move letter.
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
# A walk that ends on G but is longer than the optimum earns at most this, scaled by optimum / length.
PARTIAL_CAP = 0.5
# Carving extends the newest corridor with this probability (long winding corridors, like a
# depth-first maze) and otherwise a random one (short side branches, like Prim's maze).
_NEWEST_BIAS = 0.7
# Format examples for the prompt; they end on different cells, so at most one reaches G, and the
# first that is not a correct answer is shown: copying the example never earns full reward.
_EXAMPLES = ("DDRRRU", "RRDDLD", "ULLURR")


def carve(rng: random.Random, width: int, height: int) -> bytearray:
    """A tree of one-cell-wide corridors over a width x height grid (1 = open, row-major).

    A closed cell is opened from a neighbouring open cell only if the five cells around it on the
    far side (ahead, both sides, both forward diagonals) are closed: corridors never touch, so the
    open cells form a tree and a wall always separates two corridors.
    """
    # Work on a grid padded with a frame of border cells (2): neighbour tests need no bounds checks.
    pw = width + 2
    cells = bytearray(pw * (height + 2))
    for col in range(pw):
        cells[col] = cells[(height + 1) * pw + col] = 2
    for row in range(1, height + 1):
        cells[row * pw] = cells[row * pw + width + 1] = 2
    # For each step: the offset of the step, then the five cells beyond it that must stay closed.
    steps = []
    for step, side in ((-pw, 1), (pw, 1), (-1, pw), (1, pw)):
        steps.append((step, (2 * step, step + side, step - side, 2 * step + side, 2 * step - side)))
    first = (1 + rng.randrange(height)) * pw + 1 + rng.randrange(width)
    cells[first] = 1
    active = [first]
    rand, randrange = rng.random, rng.randrange
    while active:
        index = len(active) - 1 if rand() < _NEWEST_BIAS else randrange(len(active))
        cell = active[index]
        options = [
            cell + step
            for step, (a, b, c, d, e) in steps
            if cells[cell + step] == 0
            and cells[cell + a] != 1
            and cells[cell + b] != 1
            and cells[cell + c] != 1
            and cells[cell + d] != 1
            and cells[cell + e] != 1
        ]
        if options:
            chosen = options[randrange(len(options))] if len(options) > 1 else options[0]
            cells[chosen] = 1
            active.append(chosen)
        else:
            # Order-preserving removal keeps "newest" meaningful for the bias above.
            del active[index]
    is_open = bytearray(width * height)
    for row in range(height):
        start = (row + 1) * pw + 1
        is_open[row * width : (row + 1) * width] = cells[start : start + width]
    return is_open


def open_loops(rng: random.Random, is_open: bytearray, width: int, height: int, share: float) -> None:
    """Knock out ``share`` of the walls that separate two corridors in a straight line (each one
    opened joins two parts of the tree, so it makes a loop)."""
    if share <= 0:
        return
    candidates = []
    for row in range(height):
        base = row * width
        for col in range(width):
            cell = base + col
            if is_open[cell]:
                continue
            horizontal = 0 < col < width - 1 and is_open[cell - 1] and is_open[cell + 1]
            vertical = 0 < row < height - 1 and is_open[cell - width] and is_open[cell + width]
            if horizontal != vertical:
                candidates.append(cell)
    count = round(share * len(candidates))
    for cell in rng.sample(candidates, count):
        is_open[cell] = 1


class GridMaze(Environment):
    """Find a shortest route through a maze drawn as text: '#' is a wall, '.' an open cell, 'S' the
    start and 'G' the goal. The answer is a string of moves U (up), D (down), L (left), R (right),
    one cell each. Any route that never enters a wall or leaves the grid, ends on G and has the
    optimal number of moves (computed by breadth-first search) earns 1.0; with loops in the maze
    there can be several. Partial credit: a legal walk that ends on G but is longer earns
    0.5 * optimum / length (always below 0.5); a walk into a wall or off the grid, one that does not
    end on G, or an answer with anything but move letters earns 0."""

    name = "grid_maze"
    asymmetry = "algorithmic"
    family = "spatial"
    space = {
        "width": IntParam(5, 25, description="columns of the grid"),
        "height": IntParam(5, 25, description="rows of the grid"),
        "loops": FloatParam(
            0.0, 0.12, description="share of the walls between two corridors knocked out (more routes to compare)"
        ),
        "goal_distance": FloatParam(
            0.3,
            1.0,
            description="the goal is at least this fraction of the farthest reachable distance from the start",
        ),
    }

    def generate(self, rng: random.Random, width: int, height: int, loops: float, goal_distance: float) -> dict:
        is_open = carve(rng, width, height)
        open_loops(rng, is_open, width, height, loops)
        cells = [cell for cell in range(width * height) if is_open[cell]]
        # Breadth-first search over the flat grid from a random open cell, remembering each cell's
        # predecessor so that one shortest route can be read back.
        start = cells[rng.randrange(len(cells))]
        dist = {start: 0}
        parent = {start: start}
        queue = deque([start])
        while queue:
            cell = queue.popleft()
            row, col = divmod(cell, width)
            for nxt, ok in (
                (cell - width, row > 0),
                (cell + width, row < height - 1),
                (cell - 1, col > 0),
                (cell + 1, col < width - 1),
            ):
                if ok and is_open[nxt] and nxt not in dist:
                    dist[nxt] = dist[cell] + 1
                    parent[nxt] = cell
                    queue.append(nxt)
        farthest = max(dist.values())
        # At least two moves where the maze reaches that far (carving a 5x5 or larger grid always does).
        threshold = max(min(2, farthest), math.ceil(goal_distance * farthest))
        goal = rng.choice([cell for cell, d in dist.items() if d >= threshold])
        letters = {-width: "U", width: "D", -1: "L", 1: "R"}
        route = []
        cell = goal
        while cell != start:
            route.append(letters[cell - parent[cell]])
            cell = parent[cell]
        rows = ["".join(OPEN if is_open[row * width + col] else WALL for col in range(width)) for row in range(height)]
        for cell, mark in ((start, START), (goal, GOAL)):
            row, col = divmod(cell, width)
            rows[row] = rows[row][:col] + mark + rows[row][col + 1 :]
        return {
            "grid": rows,
            "start": list(divmod(start, width)),
            "goal": list(divmod(goal, width)),
            "optimal": dist[goal],
            "solution": "".join(reversed(route)),
        }

    def prompt(self, state: dict) -> str:
        grid = state["grid"]
        height, width = len(grid), len(grid[0])
        board = "\n".join(" ".join(row) for row in grid)
        (sr, sc), (gr, gc) = state["start"], state["goal"]
        example = next(e for e in _EXAMPLES if self.verify(state, e).reward < 1.0)
        return (
            f"Here is a maze of {height} rows and {width} columns. '#' is a wall, '.' is an open cell, 'S' is "
            f"the start and 'G' is the goal (both are open cells). Rows are numbered 0 to {height - 1} from top to "
            f"bottom and columns 0 to {width - 1} from left to right; S is at (row {sr}, column {sc}) and G at "
            f"(row {gr}, column {gc}). Cells are separated by spaces.\n\n{board}\n\n"
            "Walk from S to G using as few moves as possible. Each move goes one cell: U (up, row - 1), "
            "D (down, row + 1), L (left, column - 1) or R (right, column + 1). You may not enter a wall or "
            "leave the grid, and the walk must end on G. Answer with the moves in order as one string of the "
            "letters U, D, L, R. Only a route with the fewest possible moves earns full reward; a longer legal "
            "route that ends on G earns partial reward.\n" + answer_instruction(example)
        )

    def reference(self, state: dict) -> str:
        return state["solution"]

    def verify(self, state: dict, answer: str) -> Score:
        moves = parse_moves(answer)
        optimal = state["optimal"]
        if moves is None:
            return Score(0.0, "answer must be a string of the move letters U, D, L, R", {"failure": "parse_error"})
        grid = state["grid"]
        height, width = len(grid), len(grid[0])
        row, col = state["start"]
        for step, move in enumerate(moves, start=1):
            dr, dc = MOVES[move]
            nr, nc = row + dr, col + dc
            if not (0 <= nr < height and 0 <= nc < width):
                return Score(
                    0.0,
                    f"move {step} ({move}) leaves the grid from (row {row}, column {col})",
                    {"failure": "off_grid", "step": step},
                )
            if grid[nr][nc] == WALL:
                return Score(
                    0.0,
                    f"move {step} ({move}) runs into the wall at (row {nr}, column {nc})",
                    {"failure": "wall", "step": step},
                )
            row, col = nr, nc
        length = len(moves)
        if [row, col] != list(state["goal"]):
            return Score(
                0.0,
                f"the walk ends on (row {row}, column {col}), not on G",
                {"failure": "not_at_goal", "length": length},
            )
        if length == optimal:
            return Score(1.0, f"reaches G in the optimal {optimal} moves", {"failure": "none", "length": length})
        # Ending on G in fewer moves than BFS found is impossible; anything else is simply longer.
        return Score(
            PARTIAL_CAP * optimal / length,
            f"reaches G in {length} moves, but {optimal} are enough",
            {"failure": "longer", "length": length},
        )

    def complexity(self, state: dict) -> float:
        # The cells to search through plus the length of the route to spell out.
        open_cells = sum(len(row) - row.count(WALL) for row in state["grid"])
        return float(open_cells + state["optimal"])

    def metadata(self, state: dict) -> dict:
        return {"optimal": state["optimal"]}


register(GridMaze)
