"""Sliding puzzle: slide the numbered tiles back into order within a move budget.

The board is scrambled from the solved position by random legal moves of the blank; the walk is
loop-erased (any return to an earlier board is cut out), and its reversal is the planted solution.
The budget is the length of that solution, and ``verify`` replays the answer, so *any* sequence of
legal moves within the budget that ends solved earns full reward.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import ChoiceParam, Environment, IntParam, Score, answer_instruction, parse_moves, register

BOARDS = {"2x3": (2, 3), "3x3": (3, 3), "3x4": (3, 4), "4x4": (4, 4)}
# Row and column change of the BLANK for each move letter, and the letter that undoes each move.
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
INVERSE = {"U": "D", "D": "U", "L": "R", "R": "L"}
# A scramble that loop-erases back to the solved board is drawn again; this many tries are ample.
_MAX_ATTEMPTS = 100
# Format examples for the prompt; the first one that does not solve the board is shown, so copying
# the example never earns reward.
_EXAMPLES = ("LURD", "ULDR", "RDLU", "DRUL")
_EDGES = {"U": "top", "D": "bottom", "L": "left", "R": "right"}


def solved_board(rows: int, cols: int) -> list[int]:
    """Tiles 1..n-1 in reading order, blank (0) in the bottom-right corner."""
    return [*range(1, rows * cols), 0]


def scramble_board(rng: random.Random, rows: int, cols: int, depth: int) -> tuple[list[int], str]:
    """``depth`` random moves of the blank from the solved board, never undoing the previous move.

    Returns the scrambled board and the loop-erased scramble: the walk with every stretch that
    returns to an earlier board cut out, so it visits no board twice (and may be shorter than
    ``depth``, or empty if the walk came back to the solved board).
    """
    board = solved_board(rows, cols)
    blank = rows * cols - 1
    # Blank offsets in the flat board, with the test that the blank can move that way.
    steps = (
        ("U", -cols, lambda b: b >= cols),
        ("D", cols, lambda b: b < (rows - 1) * cols),
        ("L", -1, lambda b: b % cols > 0),
        ("R", 1, lambda b: b % cols < cols - 1),
    )
    seen = {bytes(board): 0}  # board -> how many moves of the erased walk lead to it
    walk: list[str] = []
    last = ""
    for _ in range(depth):
        options = [(letter, offset) for letter, offset, legal in steps if legal(blank) and letter != INVERSE.get(last)]
        letter, offset = options[rng.randrange(len(options))]
        board[blank], board[blank + offset] = board[blank + offset], 0
        blank += offset
        last = letter
        key = bytes(board)
        earlier = seen.get(key)
        if earlier is None:
            walk.append(letter)
            seen[key] = len(walk)
        else:
            # Back on a board already visited: forget the loop in between.
            del walk[earlier:]
            seen = {k: v for k, v in seen.items() if v <= earlier}
    return board, "".join(walk)


def apply_moves(board: list[int], rows: int, cols: int, moves: str) -> tuple[list[int], int | None]:
    """Play ``moves`` on a copy of ``board``; returns (board, None), or (board so far, index of the
    first move that would push the blank off the board)."""
    board = list(board)
    blank = board.index(0)
    row, col = divmod(blank, cols)
    for index, move in enumerate(moves):
        dr, dc = MOVES[move]
        nr, nc = row + dr, col + dc
        if not (0 <= nr < rows and 0 <= nc < cols):
            return board, index
        target = nr * cols + nc
        board[blank], board[target] = board[target], 0
        blank, row, col = target, nr, nc
    return board, None


class SlidingPuzzle(Environment):
    """Solve a sliding-tile puzzle (like the 8- and 15-puzzle) within a move budget. Tiles numbered
    1 to n-1 and one blank sit on a rectangular board; a move slides a tile next to the blank into
    it. The answer is a string of the letters U, D, L, R, each naming the direction in which the
    BLANK moves (U swaps the blank with the tile above it). Any sequence of legal moves, no longer
    than the budget, that leaves the tiles in order (1, 2, ... in reading order, blank bottom-right)
    earns 1.0; the budget is the length of the planted solution, so one always exists. There is no
    partial credit: an illegal move, too many moves, or an unsolved final board earns 0."""

    name = "sliding_puzzle"
    asymmetry = "planted"
    family = "spatial"
    space = {
        "board": ChoiceParam(list(BOARDS), description="rows x columns of the board"),
        "scramble": IntParam(
            3, 60, scale="log", description="random moves of the blank used to scramble the solved board"
        ),
    }

    def generate(self, rng: random.Random, board: str, scramble: int) -> dict:
        rows, cols = BOARDS[board]
        for _ in range(_MAX_ATTEMPTS):
            tiles, walk = scramble_board(rng, rows, cols, scramble)
            if walk:
                break
        else:  # pragma: no cover - a non-backtracking walk of length >= 1 erases to nothing only rarely
            raise RuntimeError(f"every scramble of depth {scramble} on a {board} board returned to the solved board")
        # Undo the erased scramble from its end: the reverse order, each move inverted.
        solution = "".join(INVERSE[letter] for letter in reversed(walk))
        return {"rows": rows, "cols": cols, "tiles": tiles, "solution": solution, "limit": len(solution)}

    def prompt(self, state: dict) -> str:
        rows, cols, limit = state["rows"], state["cols"], state["limit"]
        last = rows * cols - 1
        cell_width = len(str(last))

        def render(tiles: list[int]) -> str:
            cells = ["_".rjust(cell_width) if t == 0 else str(t).rjust(cell_width) for t in tiles]
            return "\n".join(" ".join(cells[r * cols : (r + 1) * cols]) for r in range(rows))

        plural = "move" if limit == 1 else "moves"
        example = next(e for e in _EXAMPLES if self.verify(state, e).reward < 1.0)
        return (
            f"Sliding puzzle on a board of {rows} rows and {cols} columns, with tiles numbered 1 to {last} and "
            f"one blank cell, shown as _. The current board is:\n\n{render(state['tiles'])}\n\n"
            f"The goal is this board (tiles 1 to {last} in reading order, the blank in the bottom-right "
            f"corner):\n\n{render(solved_board(rows, cols))}\n\n"
            "A move slides one tile that is directly above, below, left or right of the blank into the blank. "
            "Write each move as the direction in which the BLANK moves: U means the blank swaps places with "
            "the tile directly above it (that tile slides down), D with the tile below it, L with the tile to "
            "its left, R with the tile to its right. A move that would take the blank off the board is illegal.\n"
            f"Reach the goal board in at most {limit} {plural}. Answer with the moves in order as one string "
            f"of the letters U, D, L, R (at most {limit} letters). Any legal sequence of at most {limit} "
            "moves that ends on the goal board is accepted.\n" + answer_instruction(example)
        )

    def reference(self, state: dict) -> str:
        return state["solution"]

    def verify(self, state: dict, answer: str) -> Score:
        moves = parse_moves(answer)
        if moves is None:
            return Score(0.0, "answer must be a string of the move letters U, D, L, R", {"failure": "parse_error"})
        limit = state["limit"]
        if len(moves) > limit:
            return Score(
                0.0,
                f"{len(moves)} moves is more than the allowed {limit}",
                {"failure": "too_long", "length": len(moves)},
            )
        rows, cols = state["rows"], state["cols"]
        tiles, illegal = apply_moves(state["tiles"], rows, cols, moves)
        if illegal is not None:
            move = moves[illegal]
            return Score(
                0.0,
                f"move {illegal + 1} ({move}) would take the blank off the {_EDGES[move]} edge of the board",
                {"failure": "illegal_move", "step": illegal + 1},
            )
        goal = solved_board(rows, cols)
        if tiles != goal:
            wrong = sum(1 for t, g in zip(tiles, goal, strict=True) if t != g and t != 0)
            return Score(
                0.0,
                f"after {len(moves)} moves the board is not solved ({wrong} tiles out of place)",
                {"failure": "unsolved", "length": len(moves)},
            )
        return Score(1.0, f"solved in {len(moves)} moves (budget {limit})", {"failure": "none", "length": len(moves)})

    def complexity(self, state: dict) -> float:
        # log2 of the reachable boards (half of all permutations) plus the length of the planted solution.
        cells = state["rows"] * state["cols"]
        return math.log2(math.factorial(cells) / 2) + state["limit"]

    def metadata(self, state: dict) -> dict:
        return {"limit": state["limit"]}


register(SlidingPuzzle)
