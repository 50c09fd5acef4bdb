# expect: rejected at execution: indexerror
"""Spreadsheet range sum: add up the cells of a rectangular range such as B2:D5.

Rows are labelled with letters from a fixed table of eight. Bug: the grid grows to 12 rows at
the hardest level, past the end of the table, so sampling raises IndexError once a level asks
for more than 8 rows (above about 0.61: levels 0.75 and 1 fail, levels 0, 0.25 and 0.5 work).
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int

ROW_LABELS = "ABCDEFGH"


class SpreadsheetRangeSum(Environment):
    """A grid of integers has rows labelled A, B, C, ... and columns numbered 1, 2, 3, ...; a
    range such as B2:D5 is every cell from row B to row D and column 2 to column 5. The answer is
    the sum of the cells in the given range. Harder levels use larger grids and wider values."""

    name = "spreadsheet_range_sum"
    asymmetry = "algorithmic"
    family = "arithmetic"
    version = 1
    space = {
        "rows": IntParam(3, 12, description="rows of the grid"),
        "columns": IntParam(3, 12, description="columns of the grid"),
        "max_value": IntParam(9, 999, scale="log", description="cells hold values from [-max_value, max_value]"),
    }

    def generate(self, rng: random.Random, rows: int, columns: int, max_value: int) -> dict:
        grid = [[rng.randint(-max_value, max_value) for _ in range(columns)] for _ in range(rows)]
        labels = [ROW_LABELS[r] for r in range(rows)]  # IndexError once rows > 8
        top, bottom = sorted(rng.sample(range(rows), 2))
        left, right = sorted(rng.sample(range(columns), 2))
        total = sum(grid[r][c] for r in range(top, bottom + 1) for c in range(left, right + 1))
        span = f"{labels[top]}{left + 1}:{labels[bottom]}{right + 1}"
        return {"grid": grid, "labels": labels, "range": span, "total": total}

    def prompt(self, state: dict) -> str:
        width = len(state["grid"][0])
        header = "\t".join(["", *(str(c) for c in range(1, width + 1))])
        body = "\n".join(
            "\t".join([label, *map(str, row)]) for label, row in zip(state["labels"], state["grid"], strict=True)
        )
        return (
            f"Here is a grid (rows A, B, C, ...; columns 1, 2, 3, ...; tab-separated):\n\n{header}\n{body}\n\n"
            f"What is the sum of all the cells in the range {state['range']} (every cell from the first named "
            "row to the second and from the first named column to the second, inclusive)?\n" + answer_instruction("-42")
        )

    def reference(self, state: dict) -> str:
        return str(state["total"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single whole number")
        if value != state["total"]:
            return Score(0.0, f"{value} is not the sum of the range")
        return Score(1.0, "correct sum")

    def complexity(self, state: dict) -> float:
        cells = len(state["grid"]) * len(state["grid"][0])
        return cells * math.log2(max(abs(v) for row in state["grid"] for v in row) + 2)
