"""MAPF-FrozenLake: CBS is optimal, verify simulates the rules, and the knobs shape the instances."""

from __future__ import annotations

import heapq
import itertools
import random
import time

import pytest

import envfoundry
from envfoundry.envs._mapf_cbs import cbs, conflicts, distances_from, grid_neighbours
from envfoundry.envs.mapf_frozenlake import _moves_of

ENV = envfoundry.make("mapf_frozenlake")


def joint_optimum(starts: list[int], goals: list[int], neighbours: list[list[int]]) -> int | None:
    """Least sum of costs by Dijkstra over joint states (positions, which agents have stopped for
    good on their goal): every agent still under way pays 1 per step. The ground truth for CBS."""
    k = len(starts)
    first = (tuple(starts), (False,) * k)
    best = {first: 0}
    heap = [(0, first)]
    while heap:
        cost, (cells, done) = heapq.heappop(heap)
        if cost > best[(cells, done)]:
            continue
        if all(done):
            return cost
        # Stopping on the goal for good is free; try every subset of agents that may stop now.
        can_stop = [i for i in range(k) if not done[i] and cells[i] == goals[i]]
        for size in range(1, len(can_stop) + 1):
            for stopping in itertools.combinations(can_stop, size):
                state = (cells, tuple(done[i] or i in stopping for i in range(k)))
                if cost < best.get(state, cost + 1):
                    best[state] = cost
                    heapq.heappush(heap, (cost, state))
        options = [(cells[i],) if done[i] else (cells[i], *neighbours[cells[i]]) for i in range(k)]
        step = cost + done.count(False)
        for nxt in itertools.product(*options):
            if len(set(nxt)) < k:
                continue
            if any(nxt[a] == cells[b] and nxt[b] == cells[a] != nxt[a] for a in range(k) for b in range(a + 1, k)):
                continue
            state = (nxt, done)
            if step < best.get(state, step + 1):
                best[state] = step
                heapq.heappush(heap, (step, state))
    return None


def lake(rows: list[str]) -> tuple[int, list[bool], list[list[int]]]:
    size = len(rows)
    passable = [ch != "H" for row in rows for ch in row]
    return size, passable, grid_neighbours(passable, size)


def state_of(rows: list[str], starts: list[list[int]], goals: list[list[int]], horizon: int) -> dict:
    """A hand-made instance state carrying what verify reads."""
    return {"size": len(rows), "grid": rows, "starts": starts, "goals": goals, "horizon": horizon}


# ----- the solver ---------------------------------------------------------------------------------


def test_cbs_resolves_the_corridor_swap_with_the_side_pocket_optimally():
    # Two agents swap ends of a corridor; the only passing place is the pocket above the middle.
    size, _, neighbours = lake(["H.H", "...", "HHH"])
    starts, goals = [3, 5], [5, 3]
    paths = cbs(starts, goals, neighbours)
    assert paths is not None and not conflicts(paths)
    assert [p[0] for p in paths] == starts and [p[-1] for p in paths] == goals
    cost = sum(len(p) - 1 for p in paths)
    assert cost == joint_optimum(starts, goals, neighbours)
    assert cost > distances_from(goals[0], neighbours)[starts[0]] + distances_from(goals[1], neighbours)[starts[1]]
    assert any(1 in path for path in paths)  # someone steps into the pocket


def test_cbs_reports_an_impossible_swap_as_none():
    _, _, neighbours = lake(["HHH", "...", "HHH"])
    assert cbs([3, 5], [5, 3], neighbours) is None


def test_cbs_matches_brute_force_on_random_tiny_lakes():
    rng = random.Random(7)
    checked = 0
    for _ in range(60):
        size = rng.choice((3, 4))
        holes = set(rng.sample(range(size * size), rng.randint(0, 3)))
        passable = [cell not in holes for cell in range(size * size)]
        neighbours = grid_neighbours(passable, size)
        agents = rng.choice((2, 3)) if size == 3 else 2
        cells = rng.sample([c for c in range(size * size) if passable[c]], 2 * agents)
        starts, goals = cells[:agents], cells[agents:]
        if any(distances_from(g, neighbours)[s] < 0 for s, g in zip(starts, goals, strict=True)):
            continue
        expected = joint_optimum(starts, goals, neighbours)
        paths = cbs(starts, goals, neighbours, max_expansions=2000)
        if expected is None:
            assert paths is None
            continue
        assert paths is not None and not conflicts(paths)
        assert sum(len(p) - 1 for p in paths) == expected
        checked += 1
    assert checked >= 40


def test_generated_references_are_optimal_by_brute_force():
    for seed in range(8):
        instance = ENV.sample(seed, params={"size": 4, "agents": 2, "wait_ratio": 0.5})
        state = instance.state
        size, passable, neighbours = lake(state["grid"])
        starts = [r * size + c for r, c in state["starts"]]
        goals = [r * size + c for r, c in state["goals"]]
        assert joint_optimum(starts, goals, neighbours) == state["sum_of_costs"]
        assert len(instance.reference.splitlines()) == 2


# ----- verify ---------------------------------------------------------------------------------------

OPEN = ["....", ".H..", "....", "...."]


def verdict(state: dict, answer: str):
    return ENV.verify(state, answer)


def test_a_different_correct_plan_is_accepted():
    state = state_of(OPEN, [[0, 0], [3, 0]], [[2, 2], [3, 3]], horizon=6)
    for plan in ("1: RRDD\n2: RRR", "1: DDRR\n2: RRR", "2: WRRR\n1: D D R R", "1: ddrr\n2: rrr."):
        score = verdict(state, plan)
        assert score.reward == 1.0, (plan, score.reason)
        assert score.metadata["failure"] == "none"


def test_a_uniform_delay_is_accepted_with_slack_and_a_timeout_without():
    for seed in range(10):
        instance = ENV.sample(seed, level=0.5, params={"horizon_slack": 1})
        delayed = "\n".join(f"{i + 1}: W{moves}" for i, moves in enumerate(instance.state["plan"]))
        assert delayed != instance.reference
        assert ENV.score_answer(instance, delayed).correct
        tight = ENV.sample(seed, level=0.5, params={"horizon_slack": 0})
        delayed = "\n".join(f"{i + 1}: W{moves}" for i, moves in enumerate(tight.state["plan"]))
        verdict_tight = ENV.score_answer(tight, delayed)
        assert not verdict_tight.correct
        assert verdict_tight.metadata["failure"] == "timeout"


def test_illegal_move_fails_only_that_agent():
    state = state_of(OPEN, [[0, 0], [3, 0]], [[0, 3], [3, 3]], horizon=5)
    score = verdict(state, "1: URRR\n2: RRR")
    assert score.reward == 0.5
    assert score.metadata["failure"] == "illegal_move"
    assert score.metadata["agents"] == {"1": "illegal_move", "2": "arrived"}


def test_hole_collision():
    state = state_of(OPEN, [[0, 0], [3, 0]], [[2, 2], [3, 3]], horizon=5)
    score = verdict(state, "1: RDRD\n2: RRR")
    assert score.reward == 0.5
    assert score.metadata["failure"] == "hole_collision"
    assert "(1, 1)" in score.reason


def test_vertex_and_swap_conflicts_fail_both_agents():
    head_on = state_of(OPEN, [[0, 0], [0, 2]], [[0, 2], [0, 0]], horizon=5)
    score = verdict(head_on, "1: RR\n2: LL")
    assert score.reward == 0.0
    assert score.metadata["failure"] == "agent_conflict"
    assert score.metadata["agents"] == {"1": "agent_conflict", "2": "agent_conflict"}
    assert "meet at (0, 1)" in score.reason
    swap = state_of(OPEN, [[0, 0], [0, 1]], [[0, 1], [0, 0]], horizon=5)
    score = verdict(swap, "1: R\n2: L")
    assert score.reward == 0.0 and "swap" in score.reason
    # Following into a cell that is being vacated is allowed.
    train = state_of(OPEN, [[0, 0], [0, 1]], [[0, 1], [0, 2]], horizon=5)
    assert verdict(train, "1: R\n2: R").reward == 1.0


def test_an_agent_resting_on_its_goal_fails_when_hit_later():
    # Agent 1 is home after one step; agent 2 walks through that cell at step 2.
    state = state_of(OPEN, [[0, 0], [0, 3], [3, 3]], [[0, 1], [0, 0], [3, 0]], horizon=5)
    score = verdict(state, "1: R\n2: LLL\n3: LLL")
    assert score.reward == pytest.approx(1 / 3)
    assert score.metadata["agents"] == {"1": "agent_conflict", "2": "agent_conflict", "3": "arrived"}


def test_failed_agents_leave_the_lake():
    # Agent 1 tries to leave the grid at step 1 and is removed, so agent 2 may enter its cell at once.
    state = state_of(OPEN, [[0, 0], [0, 1]], [[0, 3], [0, 0]], horizon=5)
    score = verdict(state, "1: U\n2: L")
    assert score.metadata["agents"] == {"1": "illegal_move", "2": "arrived"}
    assert score.reward == 0.5


def test_timeouts_long_sequences_and_agents_short_of_their_goal():
    state = state_of(OPEN, [[0, 0], [3, 0]], [[0, 3], [3, 3]], horizon=3)
    long = verdict(state, "1: RRRW\n2: RRR")
    assert long.reward == 0.5 and long.metadata["failure"] == "timeout"
    assert "more than the horizon" in long.reason
    short = verdict(state, "1: RR\n2: RRR")
    assert short.reward == 0.5 and short.metadata["agents"]["1"] == "wrong_goal"
    assert "not on its goal" in short.reason


@pytest.mark.parametrize(
    "answer, fragment",
    [
        ("1: RRR\n1: RRR", "more than one line"),
        ("1: RRR", "no line for agent(s) 2"),
        ("1: RRR\n3: RRR", "no agent 3"),
        ("1: RRR\n2: RRX", "cannot read line"),
        ("1: RRR 2: RRR", "cannot read line"),
        ("1: RRR\n2: RRR or 1: DDD", "cannot read line"),
        ("RRR\nRRR", "cannot read line"),
        ("", "empty answer"),
    ],
)
def test_parse_errors(answer, fragment):
    state = state_of(OPEN, [[0, 0], [3, 0]], [[0, 3], [3, 3]], horizon=5)
    score = verdict(state, answer)
    assert score.reward == 0.0
    assert score.metadata["failure"] == "parse_error"
    assert fragment in score.reason


def test_shotgun_of_several_plans_is_a_parse_error():
    instances = [ENV.sample(seed, level=1.0) for seed in range(3)]
    for sep in ("\n", " ", " or ", ", "):
        answer = sep.join(instance.reference for instance in instances)
        verdict_ = ENV.score_answer(instances[0], answer)
        assert verdict_.reward == 0.0 and verdict_.metadata["failure"] == "parse_error"


# ----- generation -----------------------------------------------------------------------------------


def test_wait_ratio_sets_the_share_of_coupled_instances():
    def coupled(ratio: float) -> list[bool]:
        return [ENV.sample(seed, level=0.75, params={"wait_ratio": ratio}).state["needs_wait"] for seed in range(30)]

    assert not any(coupled(0.0))
    assert all(coupled(1.0))
    assert 5 <= sum(coupled(0.5)) <= 25
    for seed in range(30):
        state = ENV.sample(seed, level=0.75, params={"wait_ratio": 1.0}).state
        assert state["sum_of_costs"] > state["lower_bound"]
        assert ENV.sample(seed, level=0.75).metadata["needs_wait"] == ENV.sample(seed, level=0.75).state["needs_wait"]


def test_instances_are_well_formed_and_the_levels_change_them():
    for level, size, agents in ((0.0, 4, 2), (1.0, 8, 4)):
        for seed in range(10):
            state = ENV.sample(seed, level=level).state
            assert state["size"] == size and len(state["starts"]) == agents
            holes = round(ENV.space["hole_ratio"].at_level(level) * size**2)
            assert sum(row.count("H") for row in state["grid"]) == holes
            cells = [tuple(c) for c in state["starts"] + state["goals"]]
            assert len(set(cells)) == 2 * agents  # all starts and goals distinct
            assert all(state["grid"][r][c] == "." for r, c in cells)
            assert state["horizon"] == state["makespan"] + ENV.space["horizon_slack"].at_level(level)
    assert ENV.sample(0, level=0.0).state["horizon"] - ENV.sample(0, level=0.0).state["makespan"] == 4


def test_reference_plan_is_the_path_encoding():
    assert _moves_of([0, 1, 5, 5, 4], 4) == "RDWL"
    instance = ENV.sample(3, level=1.0)
    assert all(not moves.endswith("W") for moves in instance.state["plan"])
    assert "<answer>" in instance.prompt and instance.reference not in instance.prompt


def test_long_line_of_spaces_is_rejected_quickly():
    # Regression: adjacent optional whitespace runs in the line pattern backtracked in cubic time.
    instance = ENV.sample(0, level=0.5)
    for answer in ("1:" + " " * 150_000 + "x", "agent" + " " * 150_000 + "x"):
        began = time.perf_counter()
        verdict = ENV.score_answer(instance, answer)
        assert time.perf_counter() - began < 1.0
        assert verdict.reward == 0.0
    spaced = "\n".join(line.replace(":", " :  ") + "  ." for line in instance.reference.splitlines())
    assert ENV.score_answer(instance, spaced).correct
