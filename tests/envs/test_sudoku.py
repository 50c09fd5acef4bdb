"""Sudoku: grids are valid and varied, verify checks the rules rather than the reference."""

import json
import random

import envfoundry
from envfoundry.envs import sudoku

ENV = envfoundry.make("sudoku")


def _text(grid):
    return "\n".join(" ".join(map(str, row)) for row in grid)


def _state(solution, puzzle):
    size = len(solution)
    box_rows, box_cols = sudoku.BOXES[size]
    return {"size": size, "box_rows": box_rows, "box_cols": box_cols, "puzzle": puzzle, "solution": solution}


def test_full_grids_are_valid_and_varied():
    for size in (4, 6, 9):
        grids = set()
        for seed in range(150):
            grid = sudoku.full_grid(random.Random(seed), size)
            assert sudoku.grid_errors(grid, *sudoku.BOXES[size]) is None
            grids.add(_text(grid))
        assert len(grids) > 100


def test_9x9_grids_are_not_pattern_grids():
    # A shuffled base pattern repeats the same three digit triples in every box of a band.
    def triples_repeat(grid):
        for band in range(3):
            boxes = {
                frozenset(frozenset(grid[r][s * 3 : s * 3 + 3]) for r in range(band * 3, band * 3 + 3))
                for s in range(3)
            }
            if len(boxes) != 1:
                return False
        return True

    assert sum(triples_repeat(sudoku.full_grid(random.Random(seed), 9)) for seed in range(100)) < 10


def test_fill_restarts_when_over_budget(monkeypatch):
    monkeypatch.setattr(sudoku, "_NODE_BUDGET", 60)  # barely more than the 54 cells left to fill
    for seed in range(20):
        grid = sudoku.full_grid(random.Random(seed), 9)
        assert sudoku.grid_errors(grid, 3, 3) is None


def test_instances_keep_givens_and_levels_change_them():
    for seed in range(20):
        for level in (0.0, 0.5, 1.0):
            instance = ENV.sample(seed, level=level)
            state = instance.state
            assert json.loads(json.dumps(state)) == state
            size = state["size"]
            blanks = sum(v == 0 for row in state["puzzle"] for v in row)
            assert blanks == round(instance.params["blanks"] * size * size)
            assert all(
                p in (0, s)
                for prow, srow in zip(state["puzzle"], state["solution"], strict=True)
                for p, s in zip(prow, srow, strict=True)
            )
    assert ENV.sample(0, level=0.0).state["size"] == 4
    assert ENV.sample(0, level=0.5).state["size"] == 6
    assert ENV.sample(0, level=1.0).state["size"] == 9
    assert (
        ENV.sample(0, level=1.0, params={"blanks": 0.25}).metadata["complexity"]
        < ENV.sample(0, level=1.0).metadata["complexity"]
    )


def test_a_different_valid_completion_is_accepted():
    solution = sudoku.full_grid(random.Random(3), 9)
    # Swapping two digits everywhere gives another valid grid; blank every cell where they differ.
    other = [[{1: 2, 2: 1}.get(v, v) for v in row] for row in solution]
    puzzle = [[0 if v in (1, 2) else v for v in row] for row in solution]
    state = _state(solution, puzzle)
    assert ENV.verify(state, _text(solution)).reward == 1.0
    assert ENV.verify(state, _text(other)).reward == 1.0


def test_rule_violations_carry_the_right_reason():
    instance = ENV.sample(1, level=1.0)
    state = instance.state
    solution = state["solution"]
    i, j = next((i, j) for i in range(9) for j in range(9) if state["puzzle"][i][j])
    changed = [list(row) for row in solution]
    changed[i][j] = changed[i][j] % 9 + 1
    verdict = ENV.score_answer(instance, _text(changed))
    assert verdict.metadata["failure"] == "given" and f"row {i + 1}, column {j + 1}" in verdict.reason
    # A Latin square breaks only the boxes.
    latin = [[(i + j) % 4 + 1 for j in range(4)] for i in range(4)]
    box_state = _state(latin, [[latin[0][0], 0, 0, 0]] + [[0] * 4 for _ in range(3)])
    verdict = ENV.verify(box_state, _text(latin))
    assert verdict.reward == 0.0 and verdict.metadata["failure"] == "rule" and "box" in verdict.reason
    # Two blank cells in one row given the same digit break that row.
    k = next(k for k in range(9) if state["puzzle"][i][k] == 0)
    repeated = [list(row) for row in solution]
    repeated[i][k] = repeated[i][(k + 1) % 9] if state["puzzle"][i][(k + 1) % 9] else repeated[i][(k + 2) % 9]
    verdict = ENV.score_answer(instance, _text(repeated))
    assert verdict.reward == 0.0 and verdict.metadata["failure"] in ("rule", "given")


def test_shapes_and_spellings():
    instance = ENV.sample(2, level=0.5)
    ref = instance.reference
    rows = ref.splitlines()
    tolerated = (
        ref + ".",
        "\n".join("  " + row.replace(" ", "   ") + " " for row in rows),
        "\n\n".join(rows),
        "\n".join(row.replace(" ", "") for row in rows),
    )
    for variant in tolerated:
        assert ENV.score_answer(instance, variant).correct, variant
    other = ENV.sample(3, level=0.5).reference
    rejected = {
        "shape": (
            ref + "\n" + other,
            "\n".join(rows[:-1]),
            "\n".join(rows[:-1] + [rows[-1] + " 1"]),
            " ".join(rows),
            ref.replace(" ", ","),
        ),
        "digit": (ref.replace(rows[0], rows[0].replace(rows[0][0], "0", 1)), ref.replace(rows[1], "x" + rows[1][1:])),
    }
    for failure, answers in rejected.items():
        for answer in answers:
            verdict = ENV.score_answer(instance, answer)
            assert verdict.reward == 0.0 and verdict.metadata.get("failure") == failure, (failure, answer, verdict)
    puzzle_text = "\n".join(" ".join(str(v) if v else "." for v in row) for row in instance.state["puzzle"])
    assert ENV.score_answer(instance, puzzle_text).reward == 0.0
    for bad in ("", "banana", "[[", "1e999", "None"):
        assert ENV.score_answer(instance, bad).reward == 0.0


def test_prompt_example_is_never_a_solution():
    for seed in range(40):
        for level in (0.0, 0.5, 1.0):
            instance = ENV.sample(seed, level=level)
            example = instance.prompt.split("for example <answer>")[1].split("</answer>")[0]
            assert len(example.splitlines()) == instance.state["size"]
            assert not ENV.score_answer(instance, example).correct
            assert instance.reference not in instance.prompt
