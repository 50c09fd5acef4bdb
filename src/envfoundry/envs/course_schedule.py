"""Course schedule: put courses in an order that respects every prerequisite (a topological sort).

The prerequisite graph is a DAG built over a hidden valid order, so an answer always exists.
The reference comes from Kahn's algorithm; ``verify`` accepts *any* valid order, not only it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from heapq import heappop, heappush

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
    # Built in increasing order, so already a heap.
    ready = [course for course in range(1, n + 1) if not indegree[course]]
    order = []
    while ready:
        course = heappop(ready)
        order.append(course)
        for nxt in successors[course]:
            indegree[nxt] -= 1
            if not indegree[nxt]:
                heappush(ready, nxt)
    return order if len(order) == n else None


def _shuffled(items: list, random_: Callable[[], float]) -> list:
    """Shuffle ``items`` in place (Fisher-Yates) and return it; one scaled float draw per swap
    is much cheaper than the rejection-sampled integers of ``Random.shuffle``."""
    for i in range(len(items) - 1, 0, -1):
        j = int(random_() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def _not_a_permutation(order: list[int], n: int) -> str:
    """Why ``order`` does not list courses 1..n exactly once, or "" if it does."""
    unknown = sorted({c for c in order if not 1 <= c <= n})
    if unknown:
        return f"unknown course(s): {unknown[:5]} (courses are 1 to {n})"
    seen: set[int] = set()
    for course in order:
        if course in seen:
            return f"course {course} is listed more than once"
        seen.add(course)
    if len(order) != n:
        missing = [c for c in range(1, n + 1) if c not in seen]
        return f"{len(missing)} course(s) missing, e.g. {missing[:5]}"
    return ""


_MAX_COURSES = 40
# Every rule line of the "pairs" listing, by [before][after]: a look-up is about four times
# cheaper than formatting the line, and the table is small (41 x 41 short strings).
_PAIR_LINES = [
    [f"- Course {before} must be taken before course {after}." for after in range(_MAX_COURSES + 1)]
    for before in range(_MAX_COURSES + 1)
]
# Course numbers as written and back.
_NUMBER_TEXT = [str(course) for course in range(_MAX_COURSES + 1)]
_NUMBER_OF = {text: course for course, text in enumerate(_NUMBER_TEXT)}
# The end of every prompt: it does not depend on the instance.
_TAIL = (
    "List every course exactly once, first course first, as course numbers separated by spaces. Any order "
    "that respects every prerequisite is accepted.\n" + answer_instruction("3 1 2")
)


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
        "n_courses": IntParam(5, _MAX_COURSES, description="how many courses must be ordered"),
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
        # One uniform draw per decision, scaled: much cheaper than shuffle/randrange.
        random_ = rng.random
        n = n_courses
        hidden = _shuffled(list(range(1, n + 1)), random_)
        base = int(prereqs_per_course)
        extra_p = prereqs_per_course - base
        edges: list[list[int]] = []
        for i in range(1, n):
            # Between base and base+1 prerequisites, so the mean is prereqs_per_course.
            want = base + (random_() < extra_p)
            if want > i:
                want = i
            # At most three picks: a plain list beats a set here.
            chosen = [i - 1] if random_() < chain else []
            while len(chosen) < want:
                j = int(random_() * i)
                if j not in chosen:
                    chosen.append(j)
            after = hidden[i]
            for j in chosen:
                edges.append([hidden[j], after])
        if listing == "pairs":
            _shuffled(edges, random_)
        else:
            edges.sort(key=lambda e: (e[1], e[0]))
        return {"n": n, "edges": edges, "listing": listing}

    def prompt(self, state: dict) -> str:
        n, edges = state["n"], state["edges"]
        if state["listing"] == "pairs":
            lines = ["Prerequisite rules (each says which course must be taken before which):"]
            lines += [_PAIR_LINES[before][after] for before, after in edges]
            rules = "\n".join(lines)
        else:
            required: list[list[int]] = [[] for _ in range(n + 1)]
            for before, after in edges:
                required[after].append(before)
            lines = ["Prerequisites:"]
            for course in range(1, n + 1):
                pre = sorted(required[course])
                if not pre:
                    lines.append(f"- Course {course} has no prerequisites.")
                elif len(pre) == 1:
                    lines.append(f"- Course {course} requires course {pre[0]}.")
                else:
                    listed = ", ".join(map(str, pre[:-1])) + f" and {pre[-1]}"
                    lines.append(f"- Course {course} requires courses {listed}.")
            rules = "\n".join(lines)
        return (
            f"There are {n} courses, numbered 1 to {n}. A course can only be taken after all of its "
            f"prerequisites have been taken. Courses are taken one at a time.\n\n{rules}\n\n"
            f"Give an order in which all {n} courses can be taken. {_TAIL}"
        )

    def reference(self, state: dict) -> str:
        order = topological_order(state["n"], state["edges"])
        return " ".join(map(_NUMBER_TEXT.__getitem__, order or ()))

    def verify(self, state: dict, answer: str) -> Score:
        n = state["n"]
        # The shape of nearly every answer: course numbers written plainly, separated by whitespace.
        # When such an answer lists each course exactly once, the general parser would read it
        # the same and its checks cannot fail, so skip them; anything else takes the long way.
        order = list(map(_NUMBER_OF.get, answer.split()))
        if None in order or sorted(order) != list(range(1, n + 1)):
            order = parse_int_list(answer)
            if order is None:
                return Score(0.0, "answer must be course numbers separated by spaces")
            problem = _not_a_permutation(order, n)
            if problem:
                return Score(0.0, problem)
        # A list indexed by course: cheaper than a dict for courses 1..n.
        position = [0] * (n + 1)
        for index, course in enumerate(order):
            position[course] = index
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
