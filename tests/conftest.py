"""Shared fixtures: small environments written for the tests, sound and unsound."""

from __future__ import annotations

import random

import pytest

from envfoundry import Environment, IntParam, Score, answer_instruction
from envfoundry.core import parse_int
from envfoundry.llm.base import ChatModel, Completion


class ToySum(Environment):
    """Add up a list of numbers. A sound little environment used to test the machinery."""

    name = "toy_sum"
    asymmetry = "algorithmic"
    space = {"n": IntParam(2, 30), "max_value": IntParam(5, 1000, scale="log")}

    def generate(self, rng: random.Random, n: int, max_value: int) -> dict:
        return {"numbers": [rng.randint(1, max_value) for _ in range(n)]}

    def prompt(self, state: dict) -> str:
        return f"Add up: {' + '.join(map(str, state['numbers']))}. " + answer_instruction("42")

    def reference(self, state: dict) -> str:
        return str(sum(state["numbers"]))

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "not an integer")
        return Score(float(value == sum(state["numbers"])), metadata={"value": value})

    def complexity(self, state: dict) -> float:
        return float(len(state["numbers"]) * max(state["numbers"]))


@pytest.fixture
def toy() -> ToySum:
    return ToySum()


class ScriptedChat(ChatModel):
    """A chat-model double for unit tests of one piece (the model only): answers every conversation
    with ``reply(messages)`` and keeps the conversations it was asked in ``seen``."""

    name = "scripted"

    def __init__(self, reply) -> None:
        super().__init__()
        self.reply = reply
        self.seen: list[list[dict]] = []

    def chat(self, messages, **kwargs) -> Completion:
        self.seen.append(messages)
        return Completion(self.reply(messages), 1, 1, "stop")


@pytest.fixture
def scripted_chat() -> type[ScriptedChat]:
    return ScriptedChat
