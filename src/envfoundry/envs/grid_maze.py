"""Grid maze: walk from S to G through a maze of walls by a shortest route.

The maze is carved on the cell grid itself (a randomized growing tree that keeps corridors one cell
wide), then some walls between two corridors are knocked out to make loops. Breadth-first search
gives the optimal number of moves; ``verify`` walks the submitted moves cell by cell, so *any*
shortest route earns full reward.

Sets of cells are Python ints used as bit sets (numbered as in ``_layout``): a carving step or a
whole BFS layer is then a few big-int operations instead of a Python loop over cells.
"""

from __future__ import annotations

import functools
import math
import random
from itertools import compress, count
from math import trunc
from typing import NamedTuple

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
_INSTRUCTIONS = {example: answer_instruction(example) for example in _EXAMPLES}
# Bit-set digits to grid characters: format(bits, "b") spells a bit set as '0' and '1'.
_TO_CELLS = str.maketrans("01", WALL + OPEN)
# The same digits as bytes 0 and 1, which itertools.compress reads as false and true.
_TO_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
# For each 4-bit pattern: how many bits are set, and the moves they stand for (indices into MOVES,
# in that order).
_OPTIONS = tuple(
    (len(moves), moves) for moves in (tuple(m for m in range(4) if pattern >> m & 1) for pattern in range(16))
)


class _Layout(NamedTuple):
    """What carving and searching a width x height grid need that no instance changes (``_layout``)."""

    cells: tuple[int, ...]  # the grid's cells, row by row
    grid: int  # their bit set
    rows: tuple[slice, ...]  # the slice of each grid row in the text of a bit set (GridMaze.generate)
    free: int  # the move bit set of an empty grid: every move that stays inside it
    keep: list[int]  # per cell: ``free`` without the moves that opening the cell rules out
    entries: list  # per cell: ``(4 * cell, ways)``, ``ways[move]`` = ``(keep, bit, entry)`` of the neighbour


# Several sizes live side by side in a curriculum; a 25x25 layout takes about 0.7 MB.
@functools.lru_cache(maxsize=32)
def _layout(width: int, height: int) -> _Layout:
    """The grid's fixed tables (see ``_Layout``).

    Cells are numbered on the grid framed by a row above it and a column to its right that are
    never open: cell (row, col) is bit ``(row + 1) * (width + 1) + col``. A neighbour is then one
    of ``cell +- 1`` and ``cell +- (width + 1)`` with no bounds checks and no wrapping from one row
    into the next (a shift by one lands on the frame column), and none is negative.

    Carving opens a neighbour of an open cell only while the neighbour and the five cells around
    it on the far side (ahead, both sides, both forward diagonals; those inside the grid) are all
    closed: corridors then never touch, so the open cells form a tree and a wall always separates
    two corridors. Which moves still pass that test is kept as one "move bit set": bit
    ``4 * cell + move`` (move an index into MOVES) is set while that move from that cell may open
    its neighbour. Opening a cell clears every move whose six cells include it, in one AND with
    ``keep[cell]``; the moves a cell can make are then the 4-bit pattern at ``4 * cell``. (The
    way back never passes: the cell it leads to is open.)
    """
    stride = width + 1
    size = (height + 1) * stride
    steps = list(MOVES.values())
    cells = tuple((row + 1) * stride + col for row in range(height) for col in range(width))
    free = 0
    ruled_out = [0] * size  # per cell: the moves its opening rules out
    for cell in cells:
        row, col = divmod(cell, stride)
        for move, (dr, dc) in enumerate(steps):
            tr, tc = row + dr, col + dc
            if not (1 <= tr <= height and 0 <= tc < width):
                continue
            bit = 1 << (4 * cell + move)
            free |= bit
            # Ahead is one more step the same way; the sides are perpendicular to it.
            for r, c in (
                (tr, tc),
                (tr + dr, tc + dc),
                (tr + dc, tc + dr),
                (tr - dc, tc - dr),
                (tr + dr + dc, tc + dc + dr),
                (tr + dr - dc, tc + dc - dr),
            ):
                if 1 <= r <= height and 0 <= c < width:
                    ruled_out[r * stride + c] |= bit
    keep = [free ^ moves if moves else free for moves in ruled_out]
    entries: list = [None] * size
    for cell in cells:
        entries[cell] = (4 * cell, [None] * 4)
    for cell in cells:
        for move, (dr, dc) in enumerate(steps):
            target = cell + dr * stride + dc
            if target < size and entries[target] is not None:  # inside the grid
                entries[cell][1][move] = (keep[target], 1 << target, entries[target])
    rows = tuple(slice(start, start + width) for start in range(stride, size, stride))
    return _Layout(cells, sum(1 << cell for cell in cells), rows, free, keep, entries)


def carve(rng: random.Random, width: int, height: int) -> int:
    """A tree of one-cell-wide corridors over a width x height grid, as the bit set of open cells
    (numbered as in ``_layout``).

    A randomized growing tree: repeatedly take an open cell that may still grow (the newest with
    probability ``_NEWEST_BIAS``, else a random one) and open one of the neighbours it may open
    (see ``_layout``), uniformly. The random draws are the ones the first version made (a
    reservoir sample over the options), so every instance is unchanged.
    """
    layout = _layout(width, height)
    cells = layout.cells
    rand = rng.random
    # trunc(x) is int(x) for a float, at a third of the cost (int() is a type call).
    first = cells[trunc(rand() * len(cells))]
    opened = 1 << first
    free = layout.free & layout.keep[first]
    # The cells that may still grow, oldest first, as entries of ``layout.entries``.
    active = [layout.entries[first]]
    while active:
        index = -1 if rand() < _NEWEST_BIAS else trunc(rand() * len(active))
        shift, ways = active[index]
        options, moves = _OPTIONS[free >> shift & 15]
        if options < 2:
            # A cell that cannot grow now never can (opening cells only rules moves out), and one
            # with a single way out has none left once it takes it: either leaves for good.
            # Order-preserving removal keeps "newest" meaningful for the bias.
            del active[index]
            if not options:
                continue
            move = moves[0]
        else:
            # Reservoir sampling: the k-th option replaces the pick with probability 1/k.
            move = moves[1] if rand() * 2 < 1 else moves[0]
            if options > 2:
                for k in range(3, options + 1):
                    if rand() * k < 1:
                        move = moves[k - 1]
        keep, bit, entry = ways[move]
        free &= keep
        opened |= bit
        active.append(entry)
    return opened


def open_loops(rng: random.Random, opened: int, width: int, height: int, share: float) -> int:
    """``opened`` with ``share`` of the walls that separate two corridors in a straight line
    knocked out (each one opened joins two parts of the tree, so it makes a loop)."""
    if share <= 0:
        return opened
    stride = width + 1
    # Closed cells with open cells on both sides, or above and below (the frame is never open);
    # a cell with both is a crossing, not a wall between two corridors.
    horizontal = (opened >> 1) & (opened << 1)
    vertical = (opened >> stride) & (opened << stride)
    candidates = (horizontal ^ vertical) & _layout(width, height).grid & ~opened
    total = candidates.bit_count()
    knocked = round(share * total)
    if knocked:
        # The candidates' cell numbers in increasing order, read off the binary digits in C.
        flags = format(candidates, "b").encode()[::-1].translate(_TO_FLAGS)
        walls = list(compress(count(), flags))
        # A partial Fisher-Yates shuffle: the first ``knocked`` entries become a uniform random pick.
        rand = rng.random
        for i in range(knocked):
            j = i + trunc(rand() * (total - i))
            walls[i], walls[j] = walls[j], walls[i]
            opened |= 1 << walls[i]
    return opened


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
        opened = open_loops(rng, carve(rng, width, height), width, height, loops)
        cells, rows = (layout := _layout(width, height)).cells, layout.rows
        stride = width + 1
        rand = rng.random
        # A random open cell as the start: rejection is cheap, well over a third of the cells are open.
        start = cells[trunc(rand() * len(cells))]
        while not (opened >> start) & 1:
            start = cells[trunc(rand() * len(cells))]
        # Breadth-first search one whole layer at a time: the next layer is every unseen open
        # neighbour of the current one (see _layout for why shifts need no masks). With
        # pair = layer | layer << (stride - 1), the neighbours pair << 1 | pair >> stride are the
        # layer shifted by +1, +stride, -stride and -1: three shifts instead of four.
        layers = []
        add_layer = layers.append
        frontier, unseen = 1 << start, opened
        down_left = stride - 1
        while frontier:
            add_layer(frontier)
            unseen ^= frontier
            pair = frontier | frontier << down_left
            frontier = (pair << 1 | pair >> stride) & unseen
        farthest = len(layers) - 1
        # At least two moves where the maze reaches that far (carving a 5x5 or larger grid always does).
        threshold = max(min(2, farthest), math.ceil(goal_distance * farthest))
        # The goal is a uniformly random cell of the layers from the threshold on: find its layer,
        # then drop that many lowest bits of the layer and take the next one.
        pick = trunc(rand() * sum(map(int.bit_count, layers[threshold:])))
        depth = threshold
        while pick >= (in_layer := layers[depth].bit_count()):
            pick -= in_layer
            depth += 1
        layer = layers[depth]
        for _ in range(pick):
            layer &= layer - 1
        goal = (layer & -layer).bit_length() - 1
        # Read one shortest route back from G: each step goes to a neighbour one layer nearer S.
        route = []
        cell = goal
        for layer in reversed(layers[:depth]):
            if (layer >> (cell - stride)) & 1:
                route.append("D")
                cell -= stride
            elif (layer >> (cell + stride)) & 1:
                route.append("U")
                cell += stride
            elif (layer >> (cell - 1)) & 1:
                route.append("R")
                cell -= 1
            else:
                route.append("L")
                cell += 1
        # The grid text: format() spells the highest bit first, hence the reversal; the row slices
        # leave the frame out.
        size = (height + 1) * stride
        flat = format(opened, f"0{size}b")[::-1].translate(_TO_CELLS)
        flat = flat[:start] + START + flat[start + 1 :]
        flat = flat[:goal] + GOAL + flat[goal + 1 :]
        return {
            "grid": list(map(flat.__getitem__, rows)),
            "start": [start // stride - 1, start % stride],
            "goal": [goal // stride - 1, goal % stride],
            "optimal": len(route),
            "solution": "".join(reversed(route)),
        }

    def prompt(self, state: dict) -> str:
        grid = state["grid"]
        height, width = len(grid), len(grid[0])
        # Spaces between all characters, then none around the line breaks. An ASCII grid (every
        # generated one) skips the string per character that " ".join(text) makes: its bytes go to
        # every other byte of a line of spaces.
        text = "\n".join(grid)
        if text.isascii():
            spaced = bytearray(b" " * (2 * len(text) - 1))
            spaced[::2] = text.encode()
            board = spaced.decode().replace(" \n ", "\n")
        else:
            board = " ".join(text).replace(" \n ", "\n")
        (sr, sc), (gr, gc) = state["start"], state["goal"]
        # An example of another length than the optimum is never right, so the walk is rarely needed.
        optimal = state["optimal"]
        for example in _EXAMPLES:
            if len(example) != optimal or self.verify(state, example).reward < 1.0:
                break
        return (
            f"Here is a maze of {height} rows and {width} columns. '#' is a wall, '.' is an open cell, 'S' is "
            f"the start and 'G' is the goal (both are open cells). Rows are numbered 0 to {height - 1} from top to "
            f"bottom and columns 0 to {width - 1} from left to right; S is at (row {sr}, column {sc}) and G at "
            f"(row {gr}, column {gc}). Cells are separated by spaces.\n\n{board}\n\n"
            "Walk from S to G using as few moves as possible. Each move goes one cell: U (up, row - 1), "
            "D (down, row + 1), L (left, column - 1) or R (right, column + 1). You may not enter a wall or "
            "leave the grid, and the walk must end on G. Answer with the moves in order as one string of the "
            "letters U, D, L, R. Only a route with the fewest possible moves earns full reward; a longer legal "
            "route that ends on G earns partial reward.\n" + _INSTRUCTIONS[example]
        )

    def reference(self, state: dict) -> str:
        return state["solution"]

    def verify(self, state: dict, answer: str) -> Score:
        optimal, solution = state["optimal"], state["solution"]
        # The stored route is the one BFS read back: legal, ending on G and of optimal length by
        # construction, so walking it (most of verify's time) would only confirm it; written as
        # the reference writes it, it needs no parsing either.
        moves = solution if answer == solution else parse_moves(answer)
        if moves == solution:
            return Score(1.0, f"reaches G in the optimal {optimal} moves", {"failure": "none", "length": optimal})
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
        cells = "".join(state["grid"])
        open_cells = len(cells) - cells.count(WALL)
        return float(open_cells + state["optimal"])

    def metadata(self, state: dict) -> dict:
        return {"optimal": state["optimal"]}


register(GridMaze)
