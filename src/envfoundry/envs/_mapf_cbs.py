"""Conflict-based search (CBS) for multi-agent path finding on a 4-connected grid.

Cells are integers ``row * side + col``. A path lists an agent's cell at every time step from 0;
after its last step the agent stays on its last cell for ever (it waits on its goal), so it can
still be hit there. The cost of a path is its number of steps (the time of the final arrival), and
CBS minimises the sum of costs over all agents.

The high level keeps a best-first tree of constraint sets and splits on the earliest vertex
conflict (two agents on one cell at one time) or edge conflict (two agents swapping cells in one
step); the low level is space-time A* with a wait action and an exact distance heuristic.
Used by ``mapf_frozenlake`` (not registered: modules starting with "_" are not auto-imported).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Set as AbstractSet

# (kind, first agent, second agent, time, cell the first agent comes from, cell it enters)
Conflict = tuple[str, int, int, int, int, int]


def grid_neighbours(passable: list[bool], side: int) -> list[list[int]]:
    """For every cell, the passable cells one move away (up, down, left, right); empty for holes."""
    out: list[list[int]] = []
    for cell in range(side * side):
        if not passable[cell]:
            out.append([])
            continue
        row, col = divmod(cell, side)
        near = []
        if row > 0 and passable[cell - side]:
            near.append(cell - side)
        if row < side - 1 and passable[cell + side]:
            near.append(cell + side)
        if col > 0 and passable[cell - 1]:
            near.append(cell - 1)
        if col < side - 1 and passable[cell + 1]:
            near.append(cell + 1)
        out.append(near)
    return out


def distances_from(source: int, neighbours: list[list[int]]) -> list[int]:
    """Breadth-first distance from ``source`` to every cell; -1 where unreachable."""
    dist = [-1] * len(neighbours)
    dist[source] = 0
    queue = deque([source])
    while queue:
        cell = queue.popleft()
        step = dist[cell] + 1
        for nxt in neighbours[cell]:
            if dist[nxt] < 0:
                dist[nxt] = step
                queue.append(nxt)
    return dist


def space_time_astar(
    start: int,
    goal: int,
    neighbours: list[list[int]],
    heuristic: list[int],
    vertex: AbstractSet[int],
    edge: AbstractSet[int],
    others: list[list[int]] = (),
) -> list[int] | None:
    """Earliest-arrival path from ``start`` to ``goal`` that respects the constraints, or None.

    ``vertex`` holds ``t * n + cell`` (be elsewhere than cell at time t); ``edge`` holds
    ``(t * n + u) * n + v`` (do not move u -> v arriving at time t). The path ends at the first time
    from which the agent may stay on its goal for ever, i.e. after the last vertex constraint there.
    Among earliest-arrival paths it prefers the one that meets the ``others`` paths least often (the
    conflict-avoidance table of CBS): fewer conflicts now means far fewer high-level splits later.
    """
    n = len(neighbours)
    last_constraint = max((key // n for key in vertex), default=0)
    if edge:
        last_constraint = max(last_constraint, max(key // (n * n) for key in edge))
    # After the last constraint an unconstrained shortest path (at most n steps) is always open.
    max_time = last_constraint + n + 1
    goal_free_from = 0
    for key in vertex:
        if key % n == goal:
            goal_free_from = max(goal_free_from, key // n + 1)
    if start in vertex:  # key of (start, time 0): the agent may not even begin
        return None
    # Cells the other agents hold while moving, and the goals they rest on (from which time).
    busy: set[int] = set()
    resting: dict[int, int] = {}
    for path in others:
        last = len(path) - 1
        busy.update(t * n + cell for t, cell in enumerate(path[:last]))
        resting[path[last]] = min(resting.get(path[last], last), last)
    parent: dict[int, int] = {}
    best: dict[int, int] = {start: 0}
    # (f, conflicts so far, -time, cell, previous cell): ties on f go to fewer conflicts, then to
    # the deeper node, which with an exact heuristic walks straight to the goal.
    heap = [(heuristic[start], 0, 0, start, -1)]
    while heap:
        _, met, neg_time, cell, previous = heapq.heappop(heap)
        time = -neg_time
        key = time * n + cell
        if key in parent:
            continue
        parent[key] = previous
        if cell == goal and time >= goal_free_from:
            path = [cell]
            while time > 0:
                cell = parent[key]
                time -= 1
                key = time * n + cell
                path.append(cell)
            path.reverse()
            return path
        if time >= max_time:
            continue
        nxt_time = time + 1
        base = nxt_time * n
        for nxt in (cell, *neighbours[cell]):
            nxt_key = base + nxt
            if nxt_key in parent or nxt_key in vertex:
                continue
            if edge and (base + cell) * n + nxt in edge:
                continue
            nxt_met = met
            if nxt_key in busy or resting.get(nxt, max_time + 1) <= nxt_time:
                nxt_met += 1
            if best.get(nxt_key, nxt_met + 1) <= nxt_met:
                continue
            best[nxt_key] = nxt_met
            heapq.heappush(heap, (nxt_time + heuristic[nxt], nxt_met, -nxt_time, nxt, cell))
    return None


def conflicts(paths: list[list[int]], first_only: bool = False) -> list[Conflict]:
    """Vertex and edge (swap) conflicts between paths, earliest first; agents wait on their goals.

    A conflict is ``(kind, a, b, time, cell a comes from, cell a enters)``.
    """
    found: list[Conflict] = []
    k = len(paths)
    horizon = max(len(p) for p in paths)
    # Pad every path with waits on its goal, then read the joint position at each time.
    padded = [p + [p[-1]] * (horizon - len(p)) for p in paths]
    before: tuple[int, ...] | None = None
    for time, cells in enumerate(zip(*padded, strict=True)):
        if len(set(cells)) < k:
            for a in range(k):
                for b in range(a + 1, k):
                    if cells[a] == cells[b]:
                        found.append(("vertex", a, b, time, before[a] if before else cells[a], cells[a]))
                        if first_only:
                            return found
        if before is not None:
            came_from = set(before)
            for a in range(k):
                # A swap needs a to move into a cell someone just left.
                if before[a] != cells[a] and cells[a] in came_from:
                    for b in range(a + 1, k):
                        if cells[b] == before[a] and before[b] == cells[a]:
                            found.append(("edge", a, b, time, before[a], cells[a]))
                            if first_only:
                                return found
        before = cells
    return found


def _branches(conflict: Conflict, n: int) -> list[tuple[int, int | None, int | None]]:
    """The two ways to resolve a conflict: (agent, vertex constraint key, edge constraint key)."""
    kind, first, second, time, came_from, entered = conflict
    if kind == "vertex":
        return [(first, time * n + entered, None), (second, time * n + entered, None)]
    return [
        (first, None, (time * n + came_from) * n + entered),
        (second, None, (time * n + entered) * n + came_from),
    ]


def cbs(
    starts: list[int],
    goals: list[int],
    neighbours: list[list[int]],
    max_expansions: int = 200,
    cost_limit: int | None = None,
    conflicts_examined: int = 3,
) -> list[list[int]] | None:
    """Paths with the least sum of costs and no conflicts, or None when some agent has no path, the
    search needs more than ``max_expansions`` high-level expansions (e.g. no joint plan exists), or
    every plan costs more than ``cost_limit`` (callers that only want uncoupled instances stop early).

    Each expansion looks at up to ``conflicts_examined`` conflicts (earliest first) and splits on the
    first cardinal one (both resolutions cost more), else the one whose resolutions cost most: as in
    ICBS, this raises the lower bound fastest and keeps the tree small.
    """
    n = len(neighbours)
    k = len(starts)
    heuristics = [distances_from(goal, neighbours) for goal in goals]
    if any(heuristics[i][starts[i]] < 0 for i in range(k)):
        return None
    no_constraints: tuple[frozenset[int], ...] = tuple(frozenset() for _ in range(k))
    paths: list[list[int]] = []
    for i in range(k):
        path = space_time_astar(starts[i], goals[i], neighbours, heuristics[i], frozenset(), frozenset(), paths)
        if path is None:
            return None
        paths.append(path)
    counter = 0
    # (sum of costs, conflict count, insertion order, vertex constraints, edge constraints, paths, conflicts)
    found = conflicts(paths)
    heap = [(sum(len(p) - 1 for p in paths), len(found), counter, no_constraints, no_constraints, paths, found)]
    expansions = 0
    while heap:
        cost, _, _, vertex, edge, paths, found = heapq.heappop(heap)
        if cost_limit is not None and cost > cost_limit:
            return None
        if not found:
            return paths
        expansions += 1
        if expansions > max_expansions:
            return None
        best: list[tuple[int, list[int] | None, frozenset[int], frozenset[int]]] = []
        best_rank = -1
        for conflict in found[:conflicts_examined]:
            children = []
            rank = 0
            for agent, vertex_key, edge_key in _branches(conflict, n):
                agent_vertex, agent_edge = vertex[agent], edge[agent]
                if vertex_key is not None:
                    agent_vertex = agent_vertex | {vertex_key}
                else:
                    agent_edge = agent_edge | {edge_key}
                others = paths[:agent] + paths[agent + 1 :]
                path = space_time_astar(
                    starts[agent], goals[agent], neighbours, heuristics[agent], agent_vertex, agent_edge, others
                )
                rank += path is None or len(path) > len(paths[agent])
                children.append((agent, path, agent_vertex, agent_edge))
            if rank > best_rank:
                best, best_rank = children, rank
            if rank == 2:
                break
        for agent, path, agent_vertex, agent_edge in best:
            if path is None:
                continue
            child_paths = list(paths)
            child_paths[agent] = path
            child_vertex = vertex[:agent] + (agent_vertex,) + vertex[agent + 1 :]
            child_edge = edge[:agent] + (agent_edge,) + edge[agent + 1 :]
            counter += 1
            child_cost = cost - (len(paths[agent]) - 1) + (len(path) - 1)
            child_found = conflicts(child_paths)
            entry = (child_cost, len(child_found), counter, child_vertex, child_edge, child_paths, child_found)
            heapq.heappush(heap, entry)
    return None
