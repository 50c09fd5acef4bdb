"""Entrants to the active set are chosen unlike the active environments."""

from __future__ import annotations

import pytest

import envfoundry
from envfoundry.curriculum import Curriculum
from envfoundry.curriculum.diversity import EmbeddingSimilarity, make_similarity, task_text
from envfoundry.similarity import Embedder

NEAR_PAIRS = [("knapsack", "planted_subset_sum"), ("countdown", "expression_eval")]


def envs(names):
    return {name: envfoundry.make(name) for name in names}


@pytest.mark.parametrize(("near", "far"), [("countdown", "grid_maze"), ("grid_maze", "countdown")])
def test_a_swap_brings_in_the_entrant_farthest_from_the_active_set(near, far):
    names = ["knapsack", "sudoku", "countdown", "grid_maze"]
    # A scripted similarity: `near` is close to knapsack (which stays active), `far` is not.
    table = {frozenset((near, "knapsack")): 0.9, frozenset((far, "knapsack")): 0.1}

    def similarity(a, b):
        return 1.0 if a == b else table.get(frozenset((a, b)), 0.5)

    c = Curriculum(envs(names), group_size=2, active_size=2, seed=3, patience=1, similarity=similarity)
    c.active = ["knapsack", "sudoku"]
    for request in c.next_batch(2):
        c.report(request.group_id, [0.0, 0.0] if request.env == "sudoku" else [1.0, 0.0])
    swaps = c.end_step()["swaps"]
    assert [(s["out"], s["in"]) for s in swaps] == [("sudoku", far)]


@pytest.fixture(scope="module")
def minilm():
    available, why = Embedder.available()
    if not available:
        pytest.skip(f"the embedding model is not installed: {why}")
    names = ["knapsack", "planted_subset_sum", "countdown", "expression_eval", "grid_maze", "sliding_puzzle",
             "edit_distance", "course_schedule"]  # fmt: skip
    return envs(names), EmbeddingSimilarity(envs(names))


def test_task_texts_fold_the_data_away():
    env = envfoundry.make("knapsack")
    text = task_text(env)
    assert text.startswith(env.description.strip()[:40]) and "<n>" in text
    assert task_text(env) == text  # sampled at fixed seeds: the same every time


def test_embeddings_put_related_tasks_nearest(minilm):
    pool, similarity = minilm
    names = list(pool)
    for a in names:
        assert similarity(a, a) == pytest.approx(1.0, abs=1e-5)
        for b in names:
            assert similarity(a, b) == pytest.approx(similarity(b, a), abs=1e-6)
    for a, b in NEAR_PAIRS:
        assert max((n for n in names if n != a), key=lambda n: similarity(a, n)) == b
        assert similarity(a, b) > similarity(a, "course_schedule") + 0.2


def test_the_initial_active_set_never_holds_a_near_pair(minilm):
    pool, similarity = minilm
    four = {name: pool[name] for pair in NEAR_PAIRS for name in pair}
    for seed in range(8):
        active = set(Curriculum(four, group_size=2, active_size=2, seed=seed, similarity=similarity).active)
        assert all(set(pair) != active for pair in NEAR_PAIRS), (seed, active)


def test_make_similarity_chooses_by_need_and_says_what_is_wrong(monkeypatch):
    pool = envs(["knapsack", "sudoku"])
    assert make_similarity(pool, "traits") is None
    assert make_similarity(pool, "auto", active_size=2) is None  # no inactive environment: nothing to choose
    with pytest.raises(ValueError, match="diversity must be auto, embeddings or traits"):
        make_similarity(pool, "cosine")
    monkeypatch.setattr(Embedder, "available", staticmethod(lambda: (False, "not installed")))
    assert make_similarity(pool, "auto", active_size=1) is None
    with pytest.raises(ValueError, match="needs the embedding model: not installed"):
        make_similarity(pool, "embeddings")
