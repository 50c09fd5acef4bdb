"""Course schedule: put courses in an order that respects every prerequisite (a topological sort).

The prerequisite graph is a DAG built over a hidden valid order, so an answer always exists.
The reference comes from Kahn's algorithm; ``verify`` accepts *any* valid order, not only it.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict

from envfoundry.core import (
    ChoiceParam,
    Environment,
    FloatParam,
    IntParam,
    Score,
    answer_instruction,
    parse_int_list,
    register,
)


def topological_order(n: int, edges: list[list[int]]) -> list[int] | None:
    """Kahn's algorithm over courses 1..n, always taking the smallest available course next.

    ``edges`` holds ``[before, after]`` pairs. Returns None when the graph has a cycle.
    """
    successors: list[list[int]] = [[] for _ in range(n + 1)]
    indegree = [0] * (n + 1)
    for before, after in edges:
        successors[before].append(after)
        indegree[after] += 1
    ready = [course for course in range(1, n + 1) if indegree[course] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        course = heapq.heappop(ready)
        order.append(course)
        for nxt in successors[course]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, nxt)
    return order if len(order) == n else None


class CourseSchedule(Environment):
    """Courses 1..n have prerequisites (a course can be taken only after all of its prerequisites);
    give an order in which all of them can be taken. The prerequisites form a DAG built over a
    hidden valid order, so an answer always exists. Any order that lists every course exactly once
    and puts every prerequisite before the course that needs it earns 1.0; everything else earns 0
    (no partial credit: an order that breaks one rule is not a schedule)."""

    name = "course_schedule"
    asymmetry = "algorithmic"
    family = "graphs"
    space = {
        "n_courses": IntParam(5, 40, description="how many courses must be ordered"),
        "prereqs_per_course": FloatParam(
            1.0,
            2.5,
            description="mean number of direct prerequisites of every course but the first in the hidden order",
        ),
        "chain": FloatParam(
            0.5,
            1.0,
            harder="down",
            description=(
                "probability that a course directly requires the course just before it in the hidden order: "
                "1.0 gives one long chain that can be read off, lower values a branching DAG that needs real sorting"
            ),
        ),
        "listing": ChoiceParam(
            ["grouped", "pairs"],
            description="prerequisites listed per course, or as shuffled 'X before Y' rules that must be gathered",
        ),
    }

    def generate(
        self, rng: random.Random, n_courses: int, prereqs_per_course: float, chain: float, listing: str
    ) -> dict:
        n = n_courses
        hidden = list(range(1, n + 1))
        rng.shuffle(hidden)
        base = int(prereqs_per_course)
        extra_p = prereqs_per_course - base
        edges: list[list[int]] = []
        for i in range(1, n):
            # Between base and base+1 prerequisites, so the mean is prereqs_per_course.
            want = min(i, base + (rng.random() < extra_p))
            chosen = set()
            if rng.random() < chain:
                chosen.add(i - 1)
            while len(chosen) < want:
                chosen.add(rng.randrange(i))
            edges.extend([hidden[j], hidden[i]] for j in sorted(chosen))
        if listing == "pairs":
            rng.shuffle(edges)
        else:
            edges.sort(key=lambda e: (e[1], e[0]))
        return {"n": n, "edges": edges, "listing": listing}

    def prompt(self, state: dict) -> str:
        n, edges = state["n"], state["edges"]
        lines = []
        if state["listing"] == "pairs":
            lines.append("Prerequisite rules (each says which course must be taken before which):")
            lines += [f"- Course {before} must be taken before course {after}." for before, after in edges]
        else:
            required: dict[int, list[int]] = defaultdict(list)
            for before, after in edges:
                required[after].append(before)
            lines.append("Prerequisites:")
            for course in range(1, n + 1):
                pre = sorted(required.get(course, ()))
                if not pre:
                    lines.append(f"- Course {course} has no prerequisites.")
                elif len(pre) == 1:
                    lines.append(f"- Course {course} requires course {pre[0]}.")
                else:
                    listed = ", ".join(str(p) for p in pre[:-1]) + f" and {pre[-1]}"
                    lines.append(f"- Course {course} requires courses {listed}.")
        rules = "\n".join(lines)
        return (
            f"There are {n} courses, numbered 1 to {n}. A course can only be taken after all of its "
            f"prerequisites have been taken. Courses are taken one at a time.\n\n{rules}\n\n"
            f"Give an order in which all {n} courses can be taken. List every course exactly once, first course "
            f"first, as course numbers separated by spaces. Any order that respects every prerequisite is accepted.\n"
            + answer_instruction("3 1 2")
        )

    def reference(self, state: dict) -> str:
        order = topological_order(state["n"], state["edges"])
        return " ".join(str(c) for c in order or ())

    def verify(self, state: dict, answer: str) -> Score:
        order = parse_int_list(answer)
        if order is None:
            return Score(0.0, "answer must be course numbers separated by spaces")
        n = state["n"]
        unknown = sorted({c for c in order if not 1 <= c <= n})
        if unknown:
            return Score(0.0, f"unknown course(s): {unknown[:5]} (courses are 1 to {n})")
        position: dict[int, int] = {}
        for index, course in enumerate(order):
            if course in position:
                return Score(0.0, f"course {course} is listed more than once")
            position[course] = index
        if len(order) != n:
            missing = [c for c in range(1, n + 1) if c not in position]
            return Score(0.0, f"{len(missing)} course(s) missing, e.g. {missing[:5]}")
        violated = [(b, a) for b, a in state["edges"] if position[b] > position[a]]
        if violated:
            before, after = violated[0]
            return Score(
                0.0,
                f"course {after} comes before its prerequisite {before} ({len(violated)} rule(s) broken)",
                {"violations": len(violated)},
            )
        return Score(1.0, "every prerequisite comes first")

    def complexity(self, state: dict) -> float:
        n, m = state["n"], len(state["edges"])
        # Courses plus rules to respect, scaled by how many courses one has to choose among.
        return (n + m) * math.log2(n)


register(CourseSchedule)
