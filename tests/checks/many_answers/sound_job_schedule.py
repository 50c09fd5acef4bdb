"""Precedence scheduling: give each job a start time so that every job starts after the jobs it
depends on have finished, and everything finishes by the deadline.

A planted schedule sets the deadline (with a little slack), so one exists; ``verify`` checks
every precedence and the deadline, so any feasible schedule is right.
"""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int_list


class JobSchedule(Environment):
    """Jobs J1..Jn with durations and "Ja before Jb" constraints are listed. Give every job a whole
    start time >= 0 so that each job starts no earlier than the end of every job it must follow,
    and every job ends by the deadline. Any such schedule earns 1.0."""

    name = "job_schedule"
    asymmetry = "planted"
    family = "scheduling"
    space = {
        "jobs": IntParam(4, 30, description="jobs"),
        "max_duration": IntParam(3, 12, description="durations are drawn from [1, max_duration]"),
        "links": IntParam(2, 60, description="precedence constraints drawn (duplicates dropped)"),
    }

    def generate(self, rng: random.Random, jobs: int, max_duration: int, links: int) -> dict:
        durations = [rng.randint(1, max_duration) for _ in range(jobs)]
        order = list(range(1, jobs + 1))
        rng.shuffle(order)  # a hidden topological order: constraints only point forwards in it
        rank = {job: i for i, job in enumerate(order)}
        pairs = set()
        for _ in range(links):
            a, b = rng.sample(order, 2)
            pairs.add((a, b) if rank[a] < rank[b] else (b, a))
        before = sorted([a, b] for a, b in pairs)
        start = [0] * jobs
        for job in order:  # earliest start in the hidden order
            start[job - 1] = max([start[a - 1] + durations[a - 1] for a, b in before if b == job], default=0)
        finish = max(s + d for s, d in zip(start, durations, strict=True))
        deadline = finish + rng.randint(0, 2)
        return {"durations": durations, "before": before, "deadline": deadline, "planted": start}

    def prompt(self, state: dict) -> str:
        jobs = ", ".join(f"J{i} takes {d}" for i, d in enumerate(state["durations"], 1))
        links = "; ".join(f"J{a} before J{b}" for a, b in state["before"])
        return (
            f"Jobs: {jobs}. Constraints (a job may start only once every job it follows has ended): {links}. "
            f"Every job must end by time {state['deadline']}.\n\n"
            "Give every job a whole start time >= 0. Answer with the start times of J1, J2, ... in "
            "order, separated by spaces.\n" + answer_instruction("0 4 4 9")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["planted"]))

    def verify(self, state: dict, answer: str) -> Score:
        start = parse_int_list(answer, negative=False, max_digits=6)
        durations = state["durations"]
        if start is None or len(start) != len(durations):
            return Score(0.0, f"answer must be {len(durations)} start times")
        late = [i + 1 for i, (s, d) in enumerate(zip(start, durations, strict=True)) if s + d > state["deadline"]]
        if late:
            return Score(0.0, f"J{late[0]} ends after the deadline")
        for a, b in state["before"]:
            if start[b - 1] < start[a - 1] + durations[a - 1]:
                return Score(0.0, f"J{b} starts before J{a} ends")
        return Score(1.0, "every constraint and the deadline are met")

    def complexity(self, state: dict) -> float:
        return len(state["durations"]) * (1 + len(state["before"]) / 10)
