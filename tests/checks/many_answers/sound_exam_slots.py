"""Exam timetabling (graph colouring): give each exam one of c slots so that no two exams that
share a student are in the same slot.

The exams are split into c planted slots first and clashes are only drawn between exams in
different slots, so a timetable exists; ``verify`` checks every clash, so any clash-free
timetable is right (renaming the slots alone gives c! of them).
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list


class ExamSlots(Environment):
    """Exams E1..En and the pairs that share a student are listed. Give every exam a slot from 1 to
    c so that no clashing pair shares a slot. Any clash-free timetable earns 1.0."""

    name = "exam_slots"
    asymmetry = "planted"
    family = "scheduling"
    space = {
        "exams": IntParam(5, 40, description="exams (vertices)"),
        "slots": IntParam(3, 4, description="slots (colours)"),
        "clash_rate": FloatParam(0.3, 0.7, description="chance that two exams in different planted slots clash"),
    }

    def generate(self, rng: random.Random, exams: int, slots: int, clash_rate: float) -> dict:
        planted = [rng.randint(1, slots) for _ in range(exams)]
        clashes = [
            [a, b]
            for a in range(1, exams + 1)
            for b in range(a + 1, exams + 1)
            if planted[a - 1] != planted[b - 1] and rng.random() < clash_rate
        ]
        return {"exams": exams, "slots": slots, "clashes": clashes, "planted": planted}

    def prompt(self, state: dict) -> str:
        pairs = ", ".join(f"E{a}/E{b}" for a, b in state["clashes"])
        return (
            f"There are {state['exams']} exams, E1 to E{state['exams']}, and {state['slots']} time slots. "
            f"These pairs of exams share a student and must not be in the same slot: {pairs}.\n\n"
            "Give every exam a slot. Answer with the slot numbers of E1, E2, ... in order, separated by "
            "spaces.\n" + answer_instruction("1 3 2 1")
        )

    def reference(self, state: dict) -> str:
        return " ".join(map(str, state["planted"]))

    def verify(self, state: dict, answer: str) -> Score:
        slots = parse_int_list(answer, negative=False, max_digits=3)
        if slots is None or len(slots) != state["exams"]:
            return Score(0.0, f"answer must be {state['exams']} slot numbers")
        if any(not 1 <= s <= state["slots"] for s in slots):
            return Score(0.0, f"slots run from 1 to {state['slots']}")
        for a, b in state["clashes"]:
            if slots[a - 1] == slots[b - 1]:
                return Score(0.0, f"E{a} and E{b} clash in slot {slots[a - 1]}")
        return Score(1.0, "no clashes")

    def complexity(self, state: dict) -> float:
        return state["exams"] * math.log2(state["slots"]) + len(state["clashes"]) / 10
