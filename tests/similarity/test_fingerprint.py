"""The structural fingerprint: the same for copies up to names, prose and order; different when the
code does something else. The structural similarity agrees with it."""

from __future__ import annotations

import inspect

from envfoundry.core import get_class
from envfoundry.envs import seed_names
from envfoundry.similarity import structural_fingerprint, structural_similarity


def _seed_source(name: str) -> tuple[str, str]:
    path = inspect.getsourcefile(get_class(name))
    with open(path, encoding="utf-8") as handle:
        return handle.read(), path


def test_fingerprint_ignores_names_docstrings_comments_and_order():
    original = """
def total(numbers):
    '''Add them up.'''
    acc = 0  # running sum
    for x in numbers:
        acc += x * 2
    return acc

def other(a: int) -> int:
    return a - 1
"""
    renamed = """
def other2(b):
    return b - 1

# moved up
def summe(values: list[int]) -> int:
    '''Something else entirely.'''
    s = 0
    for v in values:
        s += v * 2
    return s
"""
    assert structural_fingerprint(original) == structural_fingerprint(renamed)
    assert structural_similarity(original, renamed) == 1.0
    # Literal numbers, operators and the control flow count.
    assert structural_fingerprint(original) != structural_fingerprint(original.replace("x * 2", "x * 3"))
    assert structural_fingerprint(original) != structural_fingerprint(original.replace("x * 2", "x + 2"))
    assert structural_similarity(original, original.replace("x * 2", "x + 2")) < 1.0


def test_fingerprint_survives_partial_renames():
    original = """
import random as rnd

def generate(rng, items):
    weights = [rng.random() for _ in range(items)]
    table = {"weights": weights, "n": items}
    return {k: v for k, v in table.items()}, rnd.random()
"""
    # The variable renamed but not the key it is stored under; the argument renamed, so it no longer
    # shares its name with the dict method; the import no longer aliased.
    renamed = """
import random

def generate(rng, count):
    masses = [rng.random() for _ in range(count)]
    table = {"weights": masses, "n": count}
    return {k: v for k, v in table.items()}, random.random()
"""
    assert structural_fingerprint(original) == structural_fingerprint(renamed)
    # A different method of another object is a different program.
    assert structural_fingerprint(original) != structural_fingerprint(original.replace(".items()", ".values()"))


def test_seed_fingerprints_are_distinct():
    prints = {structural_fingerprint(_seed_source(name)[0]) for name in seed_names()}
    assert len(prints) == len(seed_names()) == 14
