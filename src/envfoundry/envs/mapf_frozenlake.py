"""MAPF-FrozenLake: several agents cross a frozen lake with holes, each to its own goal, without colliding.

Multi-agent path finding on a small grid. The reference is an optimal (least sum of costs) joint
plan from conflict-based search; ``verify`` simulates the answer step by step, so *any* plan that
brings every agent safely to its goal within the horizon is right, and each agent's fate (arrived,
illegal move, hole, agent conflict, timeout, wrong goal) is reported; the verdict's failure class
(``Verdict.failure``) is the first failure in time, or ``unparseable`` for an answer it cannot read.
"""

from __future__ import annotations

import random
import re
from collections import deque
from itertools import pairwise

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, register
from envfoundry.envs._mapf_cbs import cbs, conflicts, distances_from, grid_neighbours

FAILURE_CLASSES = ("parse_error", "illegal_move", "agent_conflict", "hole_collision", "timeout", "wrong_goal")
# Row and column change of each move letter; W keeps the agent where it is.
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1), "W": (0, 0)}
GOAL_LETTERS = "abcdefghij"
# Coupled instances are first sought among random layouts (natural coupling), then built.
_NATURAL_TRIES = 2
_MAX_ATTEMPTS = 200
_MAX_EXPANSIONS = 80
# Which failure is reported when several happen in the same step: the order the simulation finds them.
_FAILURE_RANK = {"illegal_move": 0, "hole_collision": 1, "agent_conflict": 2, "timeout": 3, "wrong_goal": 3}
# One greedy class for the moves and the whitespace around them: adjacent optional whitespace runs
# would make a failing match backtrack in cubic time on a long line of spaces.
_LINE_RE = re.compile(r"(?:agent\s*)?(\d{1,3})\s*:([UDLRW,\s]*)\.?", re.IGNORECASE)
_MOVE_SEPARATORS_RE = re.compile(r"[,\s]+")


class MapfFrozenLake(Environment):
    """Multi-agent path finding on a frozen lake: a square grid of safe ice and holes. Every agent
    has its own start and goal; at each time step all agents move at once (U, D, L, R) or wait (W).
    Answer with one move string per agent so that every agent reaches its goal within the horizon
    without leaving the grid, falling into a hole, sharing a cell with another agent or swapping
    cells with one. Any such plan is accepted (it is checked by simulation, not compared with the
    reference). Partial credit: the reward is the fraction of agents that arrive safely (an agent
    in a collision fails, and so does the agent it collides with, even one already on its goal);
    only a plan in which all agents arrive earns 1.0, and an answer that cannot be parsed earns 0.
    ``wait_ratio`` is the share of instances where no combination of individually shortest paths is
    conflict-free, so some agent must wait or detour (``needs_wait`` in the instance metadata)."""

    name = "mapf_frozenlake"
    asymmetry = "algorithmic"
    family = "spatial"
    space = {
        "size": IntParam(4, 8, description="side of the square lake, in cells"),
        "agents": IntParam(2, 4, description="number of agents"),
        "hole_ratio": FloatParam(0.05, 0.3, description="share of the cells that are holes"),
        "wait_ratio": FloatParam(
            0.0, 1.0, description="share of instances whose optimal plan needs an agent to wait or detour"
        ),
        "horizon_slack": IntParam(
            0, 4, harder="down", description="extra steps allowed beyond the makespan of the reference plan"
        ),
    }

    def generate(
        self,
        rng: random.Random,
        size: int,
        agents: int,
        hole_ratio: float,
        wait_ratio: float,
        horizon_slack: int,
    ) -> dict:
        want_coupled = rng.random() < wait_ratio
        hole_count = round(hole_ratio * size * size)
        for attempt in range(_MAX_ATTEMPTS):
            if want_coupled and attempt >= _NATURAL_TRIES:
                layout = _constructed_layout(rng, size, agents, hole_count)
            else:
                layout = _random_layout(rng, size, agents, hole_count)
            if layout is None:
                continue
            passable, starts, goals = layout
            neighbours = grid_neighbours(passable, size)
            lower_bound = sum(distances_from(goals[i], neighbours)[starts[i]] for i in range(agents))
            # An uncoupled instance is one whose optimum equals the lower bound: stop CBS beyond it.
            paths = cbs(starts, goals, neighbours, _MAX_EXPANSIONS, cost_limit=None if want_coupled else lower_bound)
            if paths is None:
                continue
            sum_of_costs = sum(len(path) - 1 for path in paths)
            if (sum_of_costs > lower_bound) != want_coupled:
                continue
            makespan = max(len(path) - 1 for path in paths)
            return {
                "size": size,
                "grid": ["".join("." if passable[r * size + c] else "H" for c in range(size)) for r in range(size)],
                "starts": [list(divmod(cell, size)) for cell in starts],
                "goals": [list(divmod(cell, size)) for cell in goals],
                "plan": [_moves_of(path, size) for path in paths],
                "horizon": makespan + horizon_slack,
                "makespan": makespan,
                "sum_of_costs": sum_of_costs,
                "lower_bound": lower_bound,
                "needs_wait": sum_of_costs > lower_bound,
            }
        raise RuntimeError(
            f"could not generate a {'coupled' if want_coupled else 'uncoupled'} instance with size={size}, "
            f"agents={agents}, hole_ratio={hole_ratio} in {_MAX_ATTEMPTS} attempts; lower hole_ratio or agents"
        )

    def prompt(self, state: dict) -> str:
        size, k = state["size"], len(state["starts"])
        rows = [list(row) for row in state["grid"]]
        for i, ((sr, sc), (gr, gc)) in enumerate(zip(state["starts"], state["goals"], strict=True)):
            rows[sr][sc] = str(i + 1)
            rows[gr][gc] = GOAL_LETTERS[i]
        board = "\n".join(" ".join(row) for row in rows)
        agents = "\n".join(
            f"- Agent {i + 1}: starts at ({sr}, {sc}) (marked {i + 1}), goal ({gr}, {gc}) (marked {GOAL_LETTERS[i]})"
            for i, ((sr, sc), (gr, gc)) in enumerate(zip(state["starts"], state["goals"], strict=True))
        )
        # Every example line ends with a wait: a reference never does, so the example is never the answer.
        patterns = ("RDW", "ULW", "DDW", "LRW", "WUW", "RRW", "DLW", "UUW", "LLW", "DRW")
        example = "\n".join(f"{i + 1}: {patterns[i % len(patterns)]}" for i in range(k))
        return (
            f"Multi-agent path finding on a frozen lake. The lake is a {size}x{size} grid; rows are numbered "
            f"0 to {size - 1} from top to bottom and columns 0 to {size - 1} from left to right, and a cell is "
            f"written (row, column). '.' is safe ice and 'H' is a hole; digit k marks the start of agent k "
            f"and letter {GOAL_LETTERS[0]}, {GOAL_LETTERS[1]}, ... marks the goal of agent 1, 2, ... "
            f"(start and goal cells are safe ice).\n\n{board}\n\n{agents}\n\n"
            "Rules:\n"
            "- Time is discrete. At every step all agents act at the same time; each does one of U (up: row - 1), "
            "D (down: row + 1), L (left: column - 1), R (right: column + 1) or W (wait where it is).\n"
            "- An agent whose move string has ended stays on its last cell from then on.\n"
            "- Moving off the grid is an illegal move. Stepping onto a hole is a hole collision.\n"
            "- Two agents on the same cell at the same time, or two agents swapping cells in one step, is an "
            "agent conflict, and both agents fail (also when one of them is already resting on its goal). "
            "Entering a cell that another agent leaves in the same step is allowed.\n"
            "- An agent that fails is removed from the lake at once and blocks nobody afterwards.\n"
            f"- The horizon is {state['horizon']} steps: a move string longer than {state['horizon']} moves "
            "is a timeout.\n"
            "- An agent arrives safely if it never fails and stands on its goal once every move string has ended.\n\n"
            f"Give a move string for every agent so that all {k} agents arrive safely. Answer with exactly one "
            f"line per agent, agents 1 to {k}, each of the form 'k: MOVES' where MOVES is a string of the "
            "letters U, D, L, R, W. The reward is the fraction of agents that arrive safely.\n"
            + answer_instruction(example)
        )

    def reference(self, state: dict) -> str:
        return "\n".join(f"{i + 1}: {moves}" for i, moves in enumerate(state["plan"]))

    def verify(self, state: dict, answer: str) -> Score:
        k = len(state["starts"])
        parsed = _parse_plan(answer, k)
        if isinstance(parsed, str):
            return Score(0.0, parsed, {"failure": "parse_error", "agents": {}, "failures": {"parse_error": 1}},
                         failure="unparseable")  # fmt: skip
        return _simulate(state, parsed)

    def complexity(self, state: dict) -> float:
        # Joint state space grows with cells x agents; the plan's sum of costs adds the length of the task.
        return float(state["size"] ** 2 * len(state["starts"]) + state["sum_of_costs"])

    def metadata(self, state: dict) -> dict:
        return {
            "needs_wait": state["needs_wait"],
            "sum_of_costs": state["sum_of_costs"],
            "lower_bound": state["lower_bound"],
            "makespan": state["makespan"],
            "horizon": state["horizon"],
        }


# ----- generation -------------------------------------------------------------------------------


def _moves_of(path: list[int], size: int) -> str:
    letters = {-size: "U", size: "D", -1: "L", 1: "R", 0: "W"}
    return "".join(letters[b - a] for a, b in pairwise(path))


def _largest_component(passable: list[bool], neighbours: list[list[int]], exclude: set[int]) -> list[int]:
    """The largest 4-connected group of passable cells, in discovery order, without ``exclude``."""
    seen = [False] * len(passable)
    best: list[int] = []
    for origin, free in enumerate(passable):
        if not free or seen[origin]:
            continue
        seen[origin] = True
        component, queue = [], deque([origin])
        while queue:
            cell = queue.popleft()
            component.append(cell)
            for nxt in neighbours[cell]:
                if not seen[nxt]:
                    seen[nxt] = True
                    queue.append(nxt)
        if len(component) > len(best):
            best = component
    return [cell for cell in best if cell not in exclude]


def _random_layout(
    rng: random.Random, size: int, agents: int, hole_count: int
) -> tuple[list[bool], list[int], list[int]] | None:
    """Random holes; starts and goals drawn from the largest connected patch of ice (so paths exist)."""
    holes = set(rng.sample(range(size * size), hole_count))
    passable = [cell not in holes for cell in range(size * size)]
    component = _largest_component(passable, grid_neighbours(passable, size), set())
    if len(component) < 2 * agents:
        return None
    chosen = rng.sample(component, 2 * agents)
    return passable, chosen[:agents], chosen[agents:]


def _crossing_pair(rng: random.Random, size: int) -> tuple[list[list[int]], set[int]] | None:
    """Two straight-line agents whose only shortest paths collide: they reach one cell at the same
    time from different sides, or meet head-on and swap. A straight path between two cells of one
    row (or column) is the unique shortest path, so every pair of shortest paths conflicts."""
    directions = ((-1, 0), (1, 0), (0, -1), (0, 1))
    for _ in range(60):
        row, col = rng.randrange(size), rng.randrange(size)
        first, second = rng.sample(directions, 2)
        head_on = first[0] == -second[0] and first[1] == -second[1]
        # Head-on agents may also be one step out of phase: then they swap cells instead of meeting.
        delays = (0, rng.randrange(2)) if head_on else (0, 0)
        meet = rng.randint(1, size - 1)  # the step at which the first agent stands on (row, col)
        trajectories = []
        for (dr, dc), delay in zip((first, second), delays, strict=True):
            arrival = meet + delay
            after = rng.randint(0, size - 1)  # cells the agent goes on beyond (row, col)
            sr, sc = row - dr * arrival, col - dc * arrival
            gr, gc = row + dr * after, col + dc * after
            if not (0 <= sr < size and 0 <= sc < size and 0 <= gr < size and 0 <= gc < size):
                break
            trajectories.append([(sr + dr * t) * size + sc + dc * t for t in range(arrival + after + 1)])
        if len(trajectories) < 2:
            continue
        endpoints = {trajectories[0][0], trajectories[0][-1], trajectories[1][0], trajectories[1][-1]}
        if len(endpoints) == 4 and conflicts(trajectories, first_only=True):
            return trajectories, set(trajectories[0]) | set(trajectories[1])
    return None


def _constructed_layout(
    rng: random.Random, size: int, agents: int, hole_count: int
) -> tuple[list[bool], list[int], list[int]] | None:
    """A layout that is coupled by construction: a colliding straight-line pair, holes kept off
    their lines, and the other agents placed at random."""
    pair = _crossing_pair(rng, size)
    if pair is None:
        return None
    trajectories, reserved = pair
    open_cells = [cell for cell in range(size * size) if cell not in reserved]
    holes = set(rng.sample(open_cells, min(hole_count, len(open_cells))))
    passable = [cell not in holes for cell in range(size * size)]
    used = {trajectories[0][0], trajectories[0][-1], trajectories[1][0], trajectories[1][-1]}
    component = _largest_component(passable, grid_neighbours(passable, size), used)
    extra = agents - 2
    if len(component) < 2 * extra:
        return None
    chosen = rng.sample(component, 2 * extra)
    starts = [trajectories[0][0], trajectories[1][0], *chosen[:extra]]
    goals = [trajectories[0][-1], trajectories[1][-1], *chosen[extra:]]
    order = list(range(agents))
    rng.shuffle(order)  # the colliding pair may be any two agents
    return passable, [starts[i] for i in order], [goals[i] for i in order]


# ----- verification -----------------------------------------------------------------------------


def _parse_plan(answer: str, agents: int) -> list[str] | str:
    """One move string per agent, or a sentence saying why the answer cannot be read."""
    text = answer.strip()
    if text.endswith("."):
        text = text[:-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "empty answer: expected one line 'k: MOVES' per agent"
    plan: list[str | None] = [None] * agents
    for line in lines:
        match = _LINE_RE.fullmatch(line)
        if match is None:
            return f"cannot read line {line[:60]!r}: expected 'k: MOVES' with MOVES made of U, D, L, R, W"
        agent = int(match.group(1))
        if not 1 <= agent <= agents:
            return f"there is no agent {agent} (agents are 1 to {agents})"
        if plan[agent - 1] is not None:
            return f"agent {agent} has more than one line"
        plan[agent - 1] = _MOVE_SEPARATORS_RE.sub("", match.group(2)).upper()
    missing = [str(i + 1) for i, moves in enumerate(plan) if moves is None]
    if missing:
        return f"no line for agent(s) {', '.join(missing)}: give exactly one line per agent"
    return [moves or "" for moves in plan]


def _simulate(state: dict, plan: list[str]) -> Score:
    """Run the joint plan step by step; reward is the share of agents that arrive safely."""
    size, horizon, grid = state["size"], state["horizon"], state["grid"]
    k = len(plan)
    position = [tuple(cell) for cell in state["starts"]]
    goals = [tuple(cell) for cell in state["goals"]]
    outcome: list[str | None] = [None] * k
    details: dict[str, str] = {}
    # (time, rank, agent, detail) of each failure, to report the first one.
    events: list[tuple[int, int, int, str]] = []

    def fail(agent: int, failure: str, time: int, detail: str) -> None:
        outcome[agent] = failure
        details[str(agent + 1)] = detail
        events.append((time, _FAILURE_RANK[failure], agent, detail))

    steps = min(max(len(moves) for moves in plan), horizon)
    for time in range(1, steps + 1):
        previous = list(position)
        for agent in range(k):
            if outcome[agent] is not None or time > len(plan[agent]):
                continue
            dr, dc = MOVES[plan[agent][time - 1]]
            row, col = position[agent][0] + dr, position[agent][1] + dc
            if not (0 <= row < size and 0 <= col < size):
                fail(agent, "illegal_move", time, f"moves off the grid from {position[agent]} at step {time}")
            elif grid[row][col] == "H":
                position[agent] = (row, col)
                fail(agent, "hole_collision", time, f"falls into the hole at {(row, col)} at step {time}")
            else:
                position[agent] = (row, col)
        alive = [agent for agent in range(k) if outcome[agent] is None]
        colliding: dict[int, str] = {}
        for i, a in enumerate(alive):
            for b in alive[i + 1 :]:
                if position[a] == position[b]:
                    detail = f"agents {a + 1} and {b + 1} meet at {position[a]} at step {time}"
                elif position[a] == previous[b] and position[b] == previous[a]:
                    detail = f"agents {a + 1} and {b + 1} swap cells {previous[a]} and {previous[b]} at step {time}"
                else:
                    continue
                colliding.setdefault(a, detail)
                colliding.setdefault(b, detail)
        for agent, detail in colliding.items():
            fail(agent, "agent_conflict", time, detail)
    for agent in range(k):
        if outcome[agent] is not None:
            continue
        if len(plan[agent]) > horizon:
            fail(agent, "timeout", horizon + 1, f"has {len(plan[agent])} moves, more than the horizon of {horizon}")
        elif position[agent] != goals[agent]:
            # Its moves ended within the horizon, elsewhere: it stopped on the wrong cell.
            fail(agent, "wrong_goal", horizon + 1, f"ends on {position[agent]}, not on its goal {goals[agent]}")
        else:
            outcome[agent] = "arrived"
    arrived = outcome.count("arrived")
    per_agent = {str(agent + 1): outcome[agent] for agent in range(k)}
    if not events:
        return Score(1.0, f"all {k} agents arrive safely", {"failure": "none", "agents": per_agent, "failures": {}})
    _, _, agent, detail = min(events)
    failure = outcome[agent]
    counts = {name: outcome.count(name) for name in FAILURE_CLASSES[1:] if name in outcome}
    # Conflict details already name both agents.
    culprit = "" if failure == "agent_conflict" else f"agent {agent + 1} "
    reason = f"{arrived}/{k} agents arrive safely; first failure ({failure}): {culprit}{detail}"
    metadata = {"failure": failure, "agents": per_agent, "failures": counts, "details": details}
    return Score(arrived / k, reason, metadata, failure=failure)


register(MapfFrozenLake)
