"""Sudoku completion on 4x4 (2x2 boxes), 6x6 (2x3 boxes) and 9x9 (3x3 boxes) grids.

A full grid is built by a randomized most-constrained-first search (about 0.3 ms at 9x9), then
cells are blanked at random. Uniqueness is not required: ``verify`` checks the completed grid
itself (givens kept, every row, column and box a permutation), so *any* valid completion is
accepted.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import ChoiceParam, Environment, FloatParam, Score, answer_instruction, register

# Box shape (rows, columns) per grid size.
BOXES: dict[int, tuple[int, int]] = {4: (2, 2), 6: (2, 3), 9: (3, 3)}


# Search nodes allowed for one fill before starting over with fresh seed boxes; almost every fill
# needs under a hundred, and the cap bounds the rare unlucky one.
_NODE_BUDGET = 2000


def _try_fill(rng: random.Random, size: int, box_rows: int, box_cols: int) -> list[int] | None:
    """One randomized depth-first fill of an empty grid (flat, row-major), or None past the budget."""
    full = (1 << size) - 1
    rows, cols, boxes = [0] * size, [0] * size, [0] * size
    cells = size * size
    grid = [0] * cells
    stacks = size // box_cols
    box_of = [(i // size // box_rows) * stacks + (i % size) // box_cols for i in range(cells)]
    # Boxes on the diagonal share no row, column or box, so each can take any permutation at once:
    # a third of a 9x9 grid placed with no search.
    for b in range(min(size // box_rows, stacks)):
        digits = iter(rng.sample(range(1, size + 1), size))
        for r in range(b * box_rows, (b + 1) * box_rows):
            for c in range(b * box_cols, (b + 1) * box_cols):
                value = next(digits)
                bit = 1 << (value - 1)
                grid[r * size + c] = value
                rows[r] |= bit
                cols[c] |= bit
                boxes[box_of[r * size + c]] |= bit
    nodes = 0

    def solve(empties: list[int]) -> bool:
        nonlocal nodes
        if not empties:
            return True
        nodes += 1
        if nodes > _NODE_BUDGET:
            return False
        # Most constrained cell first: it keeps the search almost free of backtracking.
        best, best_mask, best_count = 0, 0, size + 1
        for index, cell in enumerate(empties):
            mask = full & ~(rows[cell // size] | cols[cell % size] | boxes[box_of[cell]])
            count = mask.bit_count()
            if count < best_count:
                best, best_mask, best_count = index, mask, count
                if count <= 1:
                    break
        if best_count == 0:
            return False
        cell = empties[best]
        rest = empties[:best] + empties[best + 1 :]
        values = [v for v in range(1, size + 1) if best_mask >> (v - 1) & 1]
        rng.shuffle(values)
        r, c, b = cell // size, cell % size, box_of[cell]
        for value in values:
            bit = 1 << (value - 1)
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
            grid[cell] = value
            if solve(rest):
                return True
            rows[r] ^= bit
            cols[c] ^= bit
            boxes[b] ^= bit
            grid[cell] = 0
            if nodes > _NODE_BUDGET:
                return False
        return False

    return grid if solve([i for i in range(cells) if not grid[i]]) else None


def full_grid(rng: random.Random, size: int) -> list[list[int]]:
    """A random complete Sudoku grid of the given size (digits 1..size).

    A randomized search rather than a shuffled base pattern: every symmetry of a pattern grid keeps
    its regularities (in 9x9, each band repeats the same three digit triples in every box), which a
    model could learn and exploit; a search reaches all kinds of grids, and costs ~0.3 ms at 9x9.
    """
    box_rows, box_cols = BOXES[size]
    while True:
        flat = _try_fill(rng, size, box_rows, box_cols)
        if flat is not None:
            return [flat[i : i + size] for i in range(0, size * size, size)]


def grid_errors(grid: list[list[int]], box_rows: int, box_cols: int) -> str | None:
    """The first row, column or box that is not a permutation of 1..size, as a sentence, else None."""
    size = len(grid)
    full = set(range(1, size + 1))
    for i, row in enumerate(grid):
        if set(row) != full:
            return f"row {i + 1} does not contain each digit 1 to {size} exactly once"
    for j in range(size):
        if {row[j] for row in grid} != full:
            return f"column {j + 1} does not contain each digit 1 to {size} exactly once"
    for top in range(0, size, box_rows):
        for left in range(0, size, box_cols):
            box = {grid[top + r][left + c] for r in range(box_rows) for c in range(box_cols)}
            if box != full:
                return (
                    f"the box at rows {top + 1}-{top + box_rows}, columns {left + 1}-{left + box_cols} "
                    f"does not contain each digit 1 to {size} exactly once"
                )
    return None


class Sudoku(Environment):
    """Complete a partially filled Sudoku grid (4x4 with 2x2 boxes, 6x6 with 2x3 boxes, or 9x9 with
    3x3 boxes) so that every row, column and box holds each digit 1..N exactly once, keeping the
    given digits. Any valid completion is accepted (the puzzle need not have a unique solution).
    The answer is the full grid: N lines of N digits separated by spaces. Reward is 0 or 1."""

    name = "sudoku"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "size": ChoiceParam([4, 6, 9], description="grid side N: 4 (2x2 boxes), 6 (2x3 boxes) or 9 (3x3 boxes)"),
        "blanks": FloatParam(0.25, 0.65, description="share of the cells left blank"),
    }

    def generate(self, rng: random.Random, size: int, blanks: float) -> dict:
        box_rows, box_cols = BOXES[size]
        solution = full_grid(rng, size)
        cells = size * size
        count = min(cells - 1, max(1, round(blanks * cells)))
        puzzle = [list(row) for row in solution]
        for cell in rng.sample(range(cells), count):
            puzzle[cell // size][cell % size] = 0
        return {"size": size, "box_rows": box_rows, "box_cols": box_cols, "puzzle": puzzle, "solution": solution}

    def prompt(self, state: dict) -> str:
        size, box_rows, box_cols = state["size"], state["box_rows"], state["box_cols"]
        shown = "\n".join(" ".join(str(v) if v else "." for v in row) for row in state["puzzle"])
        blanks = sum(v == 0 for row in state["puzzle"] for v in row)
        return (
            f"Complete this {size}x{size} Sudoku. Blank cells are shown as '.'; there are {blanks} of them.\n\n"
            f"{shown}\n\n"
            f"Fill every blank cell with a digit from 1 to {size} so that every row, every column and every "
            f"box contains each digit from 1 to {size} exactly once. The boxes are the {box_rows}x{box_cols} "
            f"blocks ({box_rows} rows by {box_cols} columns) you get by cutting the grid after every "
            f"{box_rows} rows and every {box_cols} columns. Keep every given digit where it is. If more than "
            f"one completion is valid, any of them is accepted.\n"
            f"Answer with the completed grid: {size} lines, one per row from top to bottom, each with "
            f"{size} digits separated by spaces.\n" + answer_instruction(self._example(state))
        )

    @staticmethod
    def _example(state: dict) -> str:
        """A well-formed full grid that is *not* a valid completion of this puzzle."""
        size, box_rows, box_cols = state["size"], state["box_rows"], state["box_cols"]
        puzzle = state["puzzle"]
        base = [[(box_cols * (i % box_rows) + i // box_rows + j) % size + 1 for j in range(size)] for i in range(size)]
        for shift in range(size):
            # Relabelling by a cyclic shift keeps the grid valid; take the first that breaks a given.
            grid = [[(v - 1 + shift) % size + 1 for v in row] for row in base]
            if any(
                p and p != g for prow, grow in zip(puzzle, grid, strict=True) for p, g in zip(prow, grow, strict=True)
            ):
                return "\n".join(" ".join(map(str, row)) for row in grid)
        return "\n".join(" ".join(str(j + 1) for j in range(size)) for _ in range(size))

    def reference(self, state: dict) -> str:
        return "\n".join(" ".join(map(str, row)) for row in state["solution"])

    def verify(self, state: dict, answer: str) -> Score:
        size = state["size"]
        lines = [line for line in answer.strip().rstrip(".").splitlines() if line.strip()]
        if len(lines) != size:
            return Score(0.0, f"expected {size} lines (one per row), got {len(lines)}", {"failure": "shape"})
        grid: list[list[int]] = []
        for i, line in enumerate(lines):
            tokens = line.split()
            # A row written without spaces ("1234") is unambiguous: every digit is one character.
            if len(tokens) == 1 and len(tokens[0]) == size:
                tokens = list(tokens[0])
            if len(tokens) != size:
                return Score(0.0, f"row {i + 1} has {len(tokens)} entries, expected {size}", {"failure": "shape"})
            row = []
            for token in tokens:
                if len(token) != 1 or not "1" <= token <= str(size):
                    return Score(0.0, f"row {i + 1} has {token!r}, not a digit from 1 to {size}", {"failure": "digit"})
                row.append(int(token))
            grid.append(row)
        for i, (given_row, row) in enumerate(zip(state["puzzle"], grid, strict=True)):
            for j, (given, value) in enumerate(zip(given_row, row, strict=True)):
                if given and given != value:
                    return Score(
                        0.0,
                        f"the given {given} at row {i + 1}, column {j + 1} was changed to {value}",
                        {"failure": "given"},
                    )
        error = grid_errors(grid, state["box_rows"], state["box_cols"])
        if error:
            return Score(0.0, error, {"failure": "rule"})
        return Score(1.0, "valid completed grid")

    def complexity(self, state: dict) -> float:
        # log2 of the naive search space: each blank holds one of N digits.
        blanks = sum(v == 0 for row in state["puzzle"] for v in row)
        return blanks * math.log2(state["size"])


register(Sudoku)
