"""sliding_puzzle: the planted solution solves the board within the budget, verify replays any answer."""

from __future__ import annotations

import random
from collections import deque

import envfoundry
from envfoundry.envs.sliding_puzzle import MOVES, apply_moves, scramble_board, solved_board

ENV = envfoundry.make("sliding_puzzle")


def optimal_solution(tiles: list[int], rows: int, cols: int) -> str:
    """Breadth-first search over boards (only for the small 2x3 board: 360 reachable boards)."""
    goal = tuple(solved_board(rows, cols))
    first = tuple(tiles)
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], str] | None] = {first: None}
    queue = deque([first])
    while queue:
        board = queue.popleft()
        if board == goal:
            moves = []
            while parent[board] is not None:
                board, letter = parent[board]
                moves.append(letter)
            return "".join(reversed(moves))
        for letter in MOVES:
            nxt, illegal = apply_moves(list(board), rows, cols, letter)
            if illegal is None and tuple(nxt) not in parent:
                parent[tuple(nxt)] = (board, letter)
                queue.append(tuple(nxt))
    raise AssertionError("unsolvable board")


def test_planted_solution_solves_within_the_budget_at_every_level():
    for level in (0.0, 0.25, 0.5, 0.75, 1.0):
        for seed in range(40):
            inst = ENV.sample(seed, level=level)
            state = inst.state
            assert state["limit"] == len(inst.reference) >= 1
            assert state["tiles"] != solved_board(state["rows"], state["cols"])
            assert sorted(state["tiles"]) == list(range(state["rows"] * state["cols"]))
            assert ENV.score_answer(inst, inst.reference).correct


def test_planted_solution_never_revisits_a_board():
    for seed in range(30):
        state = ENV.sample(seed, level=1.0).state
        boards = {tuple(state["tiles"])}
        for k in range(1, len(state["solution"]) + 1):
            board, illegal = apply_moves(state["tiles"], state["rows"], state["cols"], state["solution"][:k])
            assert illegal is None and tuple(board) not in boards
            boards.add(tuple(board))


def test_scramble_board_matches_its_walk():
    rng = random.Random(7)
    for rows, cols in ((2, 3), (3, 3), (4, 4)):
        for depth in (1, 5, 40):
            tiles, walk = scramble_board(rng, rows, cols, depth)
            assert len(walk) <= depth
            board, illegal = apply_moves(solved_board(rows, cols), rows, cols, walk)
            assert illegal is None and board == tiles


def test_a_shorter_different_solution_is_accepted():
    accepted = 0
    for seed in range(40):
        inst = ENV.sample(seed, params={"board": "2x3", "scramble": 40})
        state = inst.state
        best = optimal_solution(state["tiles"], state["rows"], state["cols"])
        assert len(best) <= state["limit"]
        if best != inst.reference:
            assert ENV.score_answer(inst, best).correct
            accepted += 1
    assert accepted > 10


def test_violations_are_rejected_with_reasons():
    # Blank in the middle of the bottom row: one move R solves it.
    state = {"rows": 2, "cols": 3, "tiles": [1, 2, 3, 4, 0, 5], "solution": "R", "limit": 1}
    inst = envfoundry.Instance("sliding_puzzle", 1, 0, {}, "", "R", state)
    assert ENV.score_answer(inst, "R").correct
    assert ENV.score_answer(inst, "r.").correct
    too_long = ENV.score_answer(inst, "LRR")
    assert too_long.reward == 0 and "more than the allowed 1" in too_long.reason
    off = ENV.score_answer(inst, "D")
    assert off.reward == 0 and "move 1 (D) would take the blank off the bottom edge" in off.reason
    unsolved = ENV.score_answer(inst, "L")
    assert unsolved.reward == 0 and "not solved" in unsolved.reason
    for bad in ("", "R or R", "right", "1", "R!"):
        verdict = ENV.score_answer(inst, bad)
        assert verdict.reward == 0 and "letters" in verdict.reason, bad

    state = {"rows": 2, "cols": 3, "tiles": [1, 2, 3, 0, 4, 5], "solution": "RR", "limit": 3}
    inst = envfoundry.Instance("sliding_puzzle", 1, 0, {}, "", "RR", state)
    assert ENV.score_answer(inst, "R, R").correct
    assert ENV.score_answer(inst, "[R R]").correct
    assert ENV.score_answer(inst, "LRR").reward == 0  # L from the left column is illegal
    assert ENV.score_answer(inst, "URD").reward == 0  # legal, but a different board
    assert ENV.score_answer(inst, "RR RR").reward == 0  # a shotgun of two answers is too long


def test_parameters_change_the_instances():
    easy = [ENV.sample(s, level=0.0).state for s in range(30)]
    hard = [ENV.sample(s, level=1.0).state for s in range(30)]
    assert all((s["rows"], s["cols"]) == (2, 3) and s["limit"] <= 3 for s in easy)
    assert all((s["rows"], s["cols"]) == (4, 4) for s in hard)
    assert min(s["limit"] for s in hard) > 20


def test_prompt_shows_the_board_and_an_example_that_is_never_right():
    for seed in range(40):
        inst = ENV.sample(seed, level=0.0)
        assert f"at most {inst.state['limit']} move" in inst.prompt
        example = inst.prompt.split("for example <answer>")[1].split("</answer>")[0]
        assert not ENV.score_answer(inst, example).correct
    inst = ENV.sample(0, params={"board": "3x3", "scramble": 5})
    tiles = inst.state["tiles"]
    first_row = " ".join("_" if t == 0 else str(t) for t in tiles[:3])
    assert first_row in inst.prompt
