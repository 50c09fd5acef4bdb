"""The proposer: prompts that ask a language model for new environment modules.

Three modes: ``new`` (shows K seed environments, the authoring contract, what the archive holds,
and asks for a requested kind and family), ``mutate`` (a harder or a different variant of one
existing environment) and ``repair`` (fix a candidate given the reason validation rejected it).
"""

from __future__ import annotations

import inspect
import random
from dataclasses import dataclass
from typing import Any

from envfoundry.core import get_class
from envfoundry.envs import seed_names
from envfoundry.synth.stages.base import Candidate

FAMILIES = ("arithmetic", "strings", "graphs", "sequences", "grids", "logic", "combinatorics", "scheduling")
KINDS = {
    "algorithmic": "algorithmic: hard to reason through step by step, easy for the program to compute exactly",
    "planted": "planted: the generator plants a solution so the answer is easy to check but hard to find",
}

CONTRACT = """An environment is ONE Python module with ONE subclass of envfoundry.Environment:

```python
import random
from envfoundry import Environment, IntParam, FloatParam, ChoiceParam, Score, answer_instruction
from envfoundry.core import parse_int, parse_int_list

class MyTask(Environment):
    \"\"\"One sentence describing the task.\"\"\"
    name = "my_task"                  # lowercase identifier, new
    asymmetry = "algorithmic"         # or "planted" (then verify checks constraints: many answers may be right)
    family = "arithmetic"
    space = {"n": IntParam(3, 30)}    # every parameter: bounds; larger is harder (harder="down" flips)

    def generate(self, rng: random.Random, n: int) -> dict:
        return {"numbers": [rng.randint(1, 99) for _ in range(n)]}   # JSON only; randomness only from rng

    def prompt(self, state: dict) -> str:
        return f"Add up {state['numbers']}. " + answer_instruction("42")

    def reference(self, state: dict) -> str:
        return str(sum(state["numbers"]))

    def verify(self, state: dict, answer: str) -> float:
        return float(parse_int(answer) == sum(state["numbers"]))    # check the answer exactly
```
Rules: only the standard library (math, random, itertools, collections, heapq, re, fractions) and
envfoundry; no files, processes, network, eval or exec. The prompt must never contain the answer.
Higher parameter values must make instances harder. verify must reject wrong answers, never match
substrings, and accept every correct answer."""


def seed_source(name: str) -> str:
    path = inspect.getsourcefile(get_class(name))
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _system() -> dict[str, str]:
    return {"role": "system", "content": "You write Python reinforcement-learning environments. Reply with one "
            "complete module in a ```python block."}  # fmt: skip


def new_messages(examples: list[tuple[str, str]], archived: list[str], kind: str, family: str) -> list[dict[str, str]]:
    shown = "".join(f"Example environment `{name}`:\n```python\n{source}\n```\n\n" for name, source in examples)
    taken = ", ".join(sorted(archived)) or "none yet"
    return [
        _system(),
        {
            "role": "user",
            "content": f"{CONTRACT}\n\n{shown}Already taken (do not repeat these tasks): {taken}.\n\n"
            f"Write a NEW environment of kind {KINDS[kind]}, in the family '{family}'. "
            "Reply with the complete module.",
        },
    ]


def mutate_messages(name: str, source: str, direction: str, archived: list[str]) -> list[dict[str, str]]:
    ask = (
        "a HARDER variant: add a parameter or widen the ranges so the top level is harder"
        if direction == "harder"
        else "a DIFFERENT variant: keep the spirit but change what is asked"
    )
    return [
        _system(),
        {
            "role": "user",
            "content": f"{CONTRACT}\n\nExisting environment `{name}`:\n```python\n{source}\n```\n\nWrite {ask}. "
            f"Give it a new `name` (taken: {', '.join(sorted(archived)) or 'none'}). Reply with the complete module.",
        },
    ]


def repair_messages(source: str, reason: str) -> list[dict[str, str]]:
    return [
        _system(),
        {
            "role": "user",
            "content": f"{CONTRACT}\n\nThis environment was rejected by validation:\n```python\n{source}\n```\n\n"
            f"Reason: {reason}\n\nFix the problem. Reply with the complete corrected module.",
        },
    ]


@dataclass
class Proposal:
    """One request to the generator and how to label what comes back."""

    messages: list[dict[str, str]]
    lineage: dict[str, Any]


class Proposer:
    """Builds proposals; ``k_examples`` seed sources of at most ``example_chars`` characters are
    shown each time (a small model on a CPU pays for every prompt token: SmolLM2-135M generates about
    16 tokens/s after a short prompt and 5 after a 3,000-token one)."""

    def __init__(
        self,
        generator_name: str,
        rng: random.Random | None = None,
        k_examples: int = 1,
        example_chars: int = 6_000,
    ) -> None:
        self.generator_name = generator_name
        self.rng = rng or random.Random(0)
        self.k_examples = k_examples
        sources = sorted(((name, seed_source(name)) for name in seed_names()), key=lambda item: len(item[1]))
        self.examples = [item for item in sources if len(item[1]) <= example_chars] or sources[:1]

    def new(self, archived: list[str]) -> Proposal:
        examples = self.rng.sample(self.examples, min(self.k_examples, len(self.examples)))
        kind = self.rng.choice(sorted(KINDS))
        family = self.rng.choice(FAMILIES)
        return Proposal(
            new_messages(examples, archived, kind, family),
            {
                "mode": "new",
                "parents": [name for name, _ in examples],
                "generator": self.generator_name,
                "kind": kind,
                "family": family,
            },  # fmt: skip
        )

    def mutate(self, name: str, source: str, archived: list[str]) -> Proposal:
        direction = self.rng.choice(("harder", "different"))
        return Proposal(
            mutate_messages(name, source, direction, archived),
            {"mode": "mutate", "parents": [name], "generator": self.generator_name, "direction": direction},
        )

    def repair(self, candidate: Candidate, reason: str) -> Proposal:
        parent = candidate.name or candidate.lineage.get("hash", "candidate")
        return Proposal(
            repair_messages(candidate.source, reason),
            {"mode": "repair", "parents": [parent], "generator": self.generator_name},
        )
