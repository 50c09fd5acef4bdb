"""Stage 5, novelty: seeds are novel against each other, copies and paraphrases are caught, the
structural fallback works and says so. The measures it reads (fingerprint, prompt template, index)
are tested on their own in tests/similarity/.

Run with ``-s`` to see the similarity figures (they calibrate the thresholds in novelty.py).
"""

from __future__ import annotations

import ast
import inspect
import re
import time

import pytest

from envfoundry.core import Environment, get_class
from envfoundry.envs import seed_names
from envfoundry.similarity import Embedder, NoveltyIndex
from envfoundry.synth.stages import novelty
from envfoundry.synth.stages.base import Candidate, Context
from envfoundry.synth.stages.novelty import STRUCTURAL_THRESHOLD, THRESHOLD

MINILM, MINILM_WHY = Embedder.available()
needs_minilm = pytest.mark.skipif(not MINILM, reason=f"MiniLM unavailable: {MINILM_WHY}")

# A light paraphrase of planted_subset_sum: same task, names and texts reworded, loops restructured.
PARAPHRASE = r'''"""Hidden-subset addition puzzle: pick values from a list so that they total a given number."""

from __future__ import annotations

import math
import random

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


class HiddenSubsetTotal(Environment):
    """Select some of the listed integers so that they add up to the requested total. The total was
    built from a hidden selection, so at least one answer exists; every valid selection scores 1."""

    name = "hidden_subset_total"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "count": IntParam(4, 40, description="how many integers are listed"),
        "ceiling": IntParam(10, 10**6, scale="log", description="integers come from [1, ceiling]"),
        "noise": FloatParam(0.1, 0.5, description="fraction of the integers that are not in the hidden selection"),
        "layout": ChoiceParam(["sorted", "shuffled"], description="whether the list is sorted"),
    }

    def generate(self, rng: random.Random, count: int, ceiling: int, noise: float, layout: str) -> dict:
        values = []
        for _ in range(count):
            values.append(rng.randint(1, ceiling))
        keep = max(1, round(count * (1.0 - noise)))
        keep = min(count - 1, keep)
        hidden = sorted(rng.sample(range(count), keep))
        total = 0
        for i in hidden:
            total += values[i]
        order = list(range(count))
        if layout == "sorted":
            order.sort(key=lambda i: values[i])
        else:
            rng.shuffle(order)
        where = {}
        for new, old in enumerate(order):
            where[old] = new
        return {
            "values": [values[i] for i in order],
            "total": total,
            "hidden": sorted(where[i] for i in hidden),
        }

    def prompt(self, state: dict) -> str:
        listed = " ".join(map(str, state["values"]))
        return (
            f"Below are {len(state['values'])} positive whole numbers:\n{listed}\n\n"
            f"Pick some of them (you may use each listed number at most once) so that the numbers you pick "
            f"sum to exactly {state['total']}. Give the picked numbers separated by spaces.\n"
            + answer_instruction("12 7 30")
        )

    def reference(self, state: dict) -> str:
        picked = [state["values"][i] for i in state["hidden"]]
        picked.sort(reverse=True)
        return " ".join(str(v) for v in picked)

    def verify(self, state: dict, answer: str) -> Score:
        picked = parse_int_list(answer)
        if picked is None:
            return Score(0.0, "the answer must be integers separated by spaces")
        remaining = {}
        for v in state["values"]:
            remaining[v] = remaining.get(v, 0) + 1
        for v in picked:
            if remaining.get(v, 0) == 0:
                return Score(0.0, f"{v} is not available (or is used too often)")
            remaining[v] -= 1
        if sum(picked) != state["total"]:
            return Score(0.0, f"the picked numbers sum to {sum(picked)}, not {state['total']}")
        return Score(1.0, "the total matches")

    def complexity(self, state: dict) -> float:
        size = len(state["values"])
        return math.log2(math.comb(size, len(state["hidden"]))) * math.log10(max(state["values"]) + 1)


register(HiddenSubsetTotal)
'''

# A genuinely different task.
BRACKETS = r'''"""Bracket repair: the fewest insertions that balance a string of brackets."""

from __future__ import annotations

import random

from envfoundry.core import Environment, IntParam, Score, answer_instruction, parse_int, register


def repairs(text: str) -> int:
    """Minimum number of brackets to insert so that every bracket is matched."""
    open_count = inserted = 0
    for ch in text:
        if ch == "(":
            open_count += 1
        elif open_count:
            open_count -= 1
        else:
            inserted += 1
    return inserted + open_count


class BracketRepair(Environment):
    """Given a string of round brackets, say how many brackets must be inserted (anywhere) to make
    it balanced, i.e. every opening bracket closed later by its own closing bracket."""

    name = "bracket_repair"
    asymmetry = "algorithmic"
    family = "strings"
    space = {"length": IntParam(4, 60, description="number of brackets in the string")}

    def generate(self, rng: random.Random, length: int) -> dict:
        text = "".join(rng.choice("()") for _ in range(length))
        return {"text": text, "answer": repairs(text)}

    def prompt(self, state: dict) -> str:
        return (
            f"Bracket string: {state['text']}\n\nWhat is the smallest number of brackets, '(' or ')', that "
            "must be inserted into this string so that it becomes balanced (every '(' is closed by a later "
            "')' and every ')' closes an earlier '(')? Answer with a single integer.\n" + answer_instruction("3")
        )

    def reference(self, state: dict) -> str:
        return str(state["answer"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "the answer must be one integer")
        return Score(float(value == state["answer"]), f"expected {state['answer']}")

    def complexity(self, state: dict) -> float:
        return float(len(state["text"]))


register(BracketRepair)
'''


def _environment(source: str) -> Environment:
    """Instantiate the one environment a (trusted, test-written) source defines, without registering it."""
    namespace: dict = {"__name__": "novelty_test_env"}
    exec(compile(re.sub(r"(?m)^register\(\w+\)$", "", source), "<test>", "exec"), namespace)
    (cls,) = [
        v for v in namespace.values() if isinstance(v, type) and issubclass(v, Environment) and v is not Environment
    ]
    return cls()


def _instances(env: Environment) -> dict[float, list]:
    """What the execution stage leaves in ``Context.instances``: other seeds and levels than the index uses."""
    return {level: [env.sample(seed, level=level) for seed in (10, 11)] for level in (0.1, 0.5, 0.9)}


def _seed_source(name: str) -> tuple[str, str]:
    path = inspect.getsourcefile(get_class(name))
    with open(path, encoding="utf-8") as handle:
        return handle.read(), path


def _renamed_copy(source: str, names: dict[str, str], reword: bool = False) -> str:
    """Rename variables, arguments, functions, classes, state keys and the environment name, and
    rewrite every docstring; comments go with ``ast.unparse``. ``reword``: also reword every text
    (any string of three words or more: prompt, messages, descriptions) and drop ``register``."""

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = names.get(node.id, node.id)
            return node

        def visit_arg(self, node):
            node.arg = names.get(node.arg, node.arg)
            return node

        def visit_keyword(self, node):
            self.generic_visit(node)
            node.arg = names.get(node.arg, node.arg) if node.arg else None
            return node

        def visit_Constant(self, node):
            if isinstance(node.value, str) and node.value in names:
                node.value = names[node.value]
            elif reword and isinstance(node.value, str) and len(node.value.split()) >= 3:
                node.value = "In other words: " + node.value.replace("item", "good")
            return node

        def _definition(self, node):
            node.name = names.get(node.name, node.name)
            self.generic_visit(node)
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                node.body[0].value.value = "A rewritten docstring for " + node.name + "."
            return node

        visit_FunctionDef = visit_ClassDef = _definition

    tree = Rename().visit(ast.parse(source))
    tree.body[0].value.value = "A completely different module docstring."
    if reword:
        tree.body = [stmt for stmt in tree.body if "register(" not in ast.unparse(stmt)]
    return ast.unparse(tree)


def _rename_in_function(source: str, function: str, old: str, new: str) -> str:
    """Rename a local name in one function only (the same name elsewhere stays)."""
    tree = ast.parse(source)
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == old:
            sub.id = new
        elif isinstance(sub, ast.arg) and sub.arg == old:
            sub.arg = new
    return ast.unparse(tree)


KNAPSACK_RENAMES = {
    "Knapsack": "Rucksack",
    "knapsack": "rucksack",
    "solve": "optimise",
    "parse_items": "read_goods",
    "PARTIAL_CAP": "HALF",
    "weights": "masses",
    "values": "worths",
    "capacity": "limit",
    "best": "row",
    "rows": "table",
    "chosen": "picked",
    "optimum": "top",
    "items": "goods",
    "max_weight": "heaviest",
    "capacity_ratio": "room",
    "correlation": "coupling",
    "spread": "jitter",
    "weight": "mass",
    "value": "worth",
}


@pytest.fixture(scope="module")
def minilm_index() -> NoveltyIndex:
    if not MINILM:
        pytest.skip(f"MiniLM unavailable: {MINILM_WHY}")
    started = time.perf_counter()
    index = NoveltyIndex.for_seeds()
    index.score("x = 1")  # loads the model (once per process) and embeds the seeds
    print(f"\nMiniLM load + seed index: {time.perf_counter() - started:.1f} s wall")
    return index


@pytest.fixture(scope="module")
def structural_index() -> NoveltyIndex:
    return NoveltyIndex.for_seeds(embedder=None)


def _check_seeds(index: NoveltyIndex, method: str) -> None:
    rows = []
    for name in seed_names():
        source, path = _seed_source(name)
        context = Context(novelty_index=index, instances=_instances(get_class(name)()))
        report = novelty.run(Candidate(source, filename=path), context)
        assert report.passed, (name, report.reason)
        assert report.figures["method"] == method, report.reason
        assert report.figures["excluded"] == [f"seed:{name}"]
        assert report.figures["compared"] == 13
        rows.append((report.figures["similarity"], name, report.figures))
    rows.sort(key=lambda row: -row[0])
    print(f"\n{method}: each seed against the other 13, nearest first")
    for similarity, name, figures in rows:
        print(
            f"  {name:32s} {similarity:.3f} -> {figures['nearest']:38s} code {figures['code_similarity']}"
            f"  prompt {figures['prompt_similarity']}  structural {figures['structural_similarity']}"
            f"  cpu {figures['cpu_seconds']} s"
        )


@needs_minilm
def test_seeds_are_novel_against_each_other_minilm(minilm_index):
    _check_seeds(minilm_index, "minilm")


def test_seeds_are_novel_against_each_other_structural(structural_index):
    _check_seeds(structural_index, "structural")


@pytest.mark.parametrize("kind", ["exact", "renamed_ast", "renamed_reworded", "renamed_text"])
def test_copies_are_structural_duplicates(structural_index, kind):
    if kind == "exact":
        source, seed = _seed_source("knapsack")[0], "knapsack"
    elif kind == "renamed_reworded":
        source = _renamed_copy(_seed_source("knapsack")[0], KNAPSACK_RENAMES, reword=True)
        # verify() must keep its parameter name; the helper's may differ from it.
        source, seed = _rename_in_function(source, "read_goods", "answer", "reply"), "knapsack"
        assert "register(" not in source and "In other words: You have a knapsack" in source
        assert "def read_goods(reply" in source and "def verify(self, state: dict, answer: str)" in source
        env = _environment(source)
        instance = env.sample(5, level=0.4)
        assert env.score_answer(instance, instance.reference).correct
    elif kind == "renamed_ast":
        source, seed = _renamed_copy(_seed_source("knapsack")[0], KNAPSACK_RENAMES), "knapsack"
        assert "class Rucksack" in source and "name = 'rucksack'" in source and "state['masses']" in source
        assert not re.search(r"\bKnapsack\b|def solve|state\['weights'\]|name = 'knapsack'", source)
        env = _environment(source)  # still a working environment
        instance = env.sample(3, level=0.7)
        assert env.name == "rucksack" and env.score_answer(instance, instance.reference).correct
    else:
        source, seed = _seed_source("planted_subset_sum")[0], "planted_subset_sum"
        source = source.replace("PlantedSubsetSum", "HiddenSum").replace('"planted_subset_sum"', '"hidden_sum"')
        renames = {"indexed": "order_of", "position": "slot", "planted_positions": "slots", "overused": "extra"}
        for old, new in renames.items():
            source = re.sub(rf"\b{old}\b", new, source)
        source = source.replace("Planted subset-sum: find numbers", "Hidden sum: pick values")
        source = source.replace("# At least one number in", "# Never all of them: at least one number in")
        assert "PlantedSubsetSum" not in source and "planted_positions" not in source
    report = novelty.run(Candidate(source, filename="candidate.py"), Context(novelty_index=structural_index))
    assert not report.passed
    assert report.figures["duplicate_of"] == f"seed:{seed}"
    assert report.reason.startswith(f"a structural duplicate of seed:{seed} (same code up to names)")
    print(f"\n{kind} copy of {seed}: structural similarity {report.figures['similarity']}")


@needs_minilm
def test_exact_copy_fails_with_minilm_too_but_the_seed_file_itself_is_excluded(minilm_index):
    source, path = _seed_source("knapsack")
    context = Context(novelty_index=minilm_index, instances=_instances(get_class("knapsack")()))
    copy = novelty.run(Candidate(source, filename="candidate.py"), context)
    assert not copy.passed and copy.figures["duplicate_of"] == "seed:knapsack"
    assert copy.figures["nearest"] == "seed:knapsack" and copy.figures["code_similarity"] >= 0.99
    itself = novelty.run(Candidate(source, filename=path), context)
    assert itself.passed and itself.figures["nearest"] != "seed:knapsack"
    renamed = _renamed_copy(source, KNAPSACK_RENAMES)
    context = Context(novelty_index=minilm_index, instances=_instances(_environment(renamed)))
    report = novelty.run(Candidate(renamed), context)
    assert not report.passed and report.figures["duplicate_of"] == "seed:knapsack"
    print(f"\nexact copy of knapsack: {copy.figures['similarity']}; renamed copy: {report.figures['similarity']}")


@needs_minilm
def test_paraphrase_is_too_similar(minilm_index):
    context = Context(novelty_index=minilm_index, instances=_instances(_environment(PARAPHRASE)))
    report = novelty.run(Candidate(PARAPHRASE), context)
    figures = report.figures
    print(
        f"\nparaphrase of planted_subset_sum: {report.reason}; structural {figures['structural_similarity']};"
        f" {report.seconds:.2f} s wall, {figures['cpu_seconds']} s cpu"
    )
    assert figures["duplicate_of"] is None
    assert figures["nearest"] == "seed:planted_subset_sum"
    assert figures["similarity"] >= THRESHOLD and not report.passed
    assert report.reason.startswith("too similar to seed:planted_subset_sum: ")


def test_paraphrase_is_caught_by_the_structural_fallback(structural_index):
    report = novelty.run(Candidate(PARAPHRASE), Context(novelty_index=structural_index))
    print(f"\nparaphrase, structural: {report.reason}")
    assert not report.passed
    assert report.figures["duplicate_of"] is None
    assert report.figures["nearest"] == "seed:planted_subset_sum"
    assert report.figures["similarity"] >= STRUCTURAL_THRESHOLD


@pytest.mark.parametrize("method", ["minilm", "structural"])
def test_different_environment_passes(request, method):
    if method == "minilm" and not MINILM:
        pytest.skip(f"MiniLM unavailable: {MINILM_WHY}")
    index = request.getfixturevalue(f"{method}_index")
    context = Context(novelty_index=index, instances=_instances(_environment(BRACKETS)))
    report = novelty.run(Candidate(BRACKETS), context)
    print(
        f"\nbracket_repair, {method}: {report.reason} ({report.seconds:.2f} s wall,"
        f" {report.figures['cpu_seconds']} s cpu)"
    )
    assert report.passed, report.reason
    assert report.figures["method"] == method
    assert report.reason.startswith("novel: the nearest of 14 is ")


def test_fallback_is_structural_and_says_so(monkeypatch, structural_index):
    report = novelty.run(Candidate(BRACKETS), Context(novelty_index=structural_index))
    assert report.passed
    assert report.figures["method"] == "structural"
    assert report.figures["threshold"] == STRUCTURAL_THRESHOLD
    assert "structural similarity only, MiniLM unavailable: no embedding model was given" in report.reason
    # "auto" without the model installed: the reason names what is missing.
    monkeypatch.setattr(Embedder, "available", staticmethod(lambda: (False, "sentence-transformers is not installed")))
    index = NoveltyIndex()
    assert index.embedder is None
    index.add("seed:knapsack", _seed_source("knapsack")[0], ["Item 1: weight 3"])
    result = index.score(BRACKETS, ["Bracket string: (()"])
    assert result["method"] == "structural"
    assert result["fallback_reason"] == "sentence-transformers is not installed"
    assert result["prompt_similarity"] is None


def test_without_instances_the_code_alone_is_compared(structural_index):
    report = novelty.run(Candidate(BRACKETS), Context(novelty_index=structural_index))
    assert report.figures["prompts_used"] is False
    assert "code only: no sampled prompts" in report.reason


@needs_minilm
def test_without_instances_minilm_uses_code_only(minilm_index):
    report = novelty.run(Candidate(BRACKETS), Context(novelty_index=minilm_index))
    assert report.passed and report.figures["method"] == "minilm"
    assert report.figures["prompt_similarity"] is None
    assert report.figures["similarity"] == report.figures["code_similarity"]
    assert "code only" in report.reason


def test_missing_index_is_built_from_the_seeds(monkeypatch):
    monkeypatch.setattr(Embedder, "available", staticmethod(lambda: (False, "forced off in this test")))
    context = Context()
    report = novelty.run(Candidate(BRACKETS), context)
    assert report.passed, report.reason
    assert isinstance(context.novelty_index, NoveltyIndex) and len(context.novelty_index) == 14
    assert "forced off in this test" in report.reason


def test_unparsable_candidate_fails_clearly(structural_index):
    report = novelty.run(Candidate("def broken(:\n"), Context(novelty_index=structural_index))
    assert not report.passed
    assert report.reason.startswith("the candidate does not parse")
