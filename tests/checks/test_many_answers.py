"""Environments with many right answers (covers, independent sets, timetables, schedules) pass the
check battery as written to the contract, and a lenient twin of each is rejected (issue 13).

The sound environments are files in ``many_answers/``, written as a user would: ``asymmetry =
"planted"`` and a verifier that checks constraints, no other declaration. Each twin keeps its
environment and breaks only ``verify`` the way lenient verifiers break: a substring match, a
format check that never checks the constraints, "contains the planted solution", always true for a
well-formed answer.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from envfoundry.checks.battery import check_environment, check_wrong_answers, random_answers
from envfoundry.core import Environment, Score, parse_int_list
from envfoundry.core.environment import answer_kind, contract_errors
from envfoundry.core.registry import load_class_from_source

HERE = Path(__file__).parent / "many_answers"
SOUND = sorted(HERE.glob("sound_*.py"))
SEEDS = range(16)


def load(stem: str) -> type[Environment]:
    path = HERE / f"{stem}.py"
    return load_class_from_source(path.read_text(), path.name)


def twin(base: type[Environment], verify) -> Environment:
    return type(f"Lenient{base.__name__}", (base,), {"__doc__": "A lenient twin.", "verify": verify})()


def substring(self, state, answer):  # the planted schedule appears somewhere in the answer
    return self.reference(state) in answer


def format_only(self, state, answer):  # k distinct group numbers in increasing order; coverage never checked
    chosen = parse_int_list(answer, negative=False)
    ok = chosen is not None and len(chosen) == state["k"] and chosen == sorted(set(chosen))
    return ok and all(1 <= c <= len(state["groups"]) for c in chosen)


def contains_planted(self, state, answer):  # every planted person is listed: extra people are not checked
    picked = parse_int_list(answer, negative=False)
    return Score(float(picked is not None and set(state["planted"]) <= set(picked)))


def well_formed(self, state, answer):  # one slot in range per exam: clashes never checked
    slots = parse_int_list(answer, negative=False)
    return slots is not None and len(slots) == state["exams"] and all(1 <= s <= state["slots"] for s in slots)


# (sound environment, lenient verifier, the probe that must catch it)
TWINS = [
    ("sound_set_cover", format_only, "other instances' references"),
    ("sound_independent_set", contains_planted, "shotgun"),
    ("sound_exam_slots", well_formed, "random answers of the reference's shape"),
    ("sound_job_schedule", substring, "shotgun"),
]


def test_the_fixtures_are_planted_constraint_checkers_without_a_declaration():
    assert len(SOUND) == 4
    for path in SOUND:
        cls = load(path.stem)
        assert cls.asymmetry == "planted" and "answers" not in vars(cls) and not contract_errors(cls)
        assert answer_kind(cls()) == "many"


@pytest.mark.parametrize("stem", [p.stem for p in SOUND])
def test_a_sound_many_answer_environment_passes_the_battery(stem):
    env = load(stem)()
    results = check_environment(env, seeds=SEEDS)
    assert all(r.passed for r in results), [r.to_dict() for r in results if not r.passed]
    wrong = next(r for r in results if r.name == "wrong_answers")
    assert wrong.figures["answers"] == "many" and wrong.figures["shotguns_tried"] > 0


def test_a_second_right_answer_is_what_the_unique_probe_would_reject():
    """The set cover is the issue's case: declared unique, a third of its near-misses are other
    covers, and the perturbation probe rejects it; its default (many) admits it."""
    cover = load("sound_set_cover")
    unique = type("UniqueCover", (cover,), {"__doc__": "Declared unique.", "answers": "unique"})()
    samples = {level: unique.sample_many(list(SEEDS), level=level) for level in (0.0, 0.5, 1.0)}
    declared = check_wrong_answers(unique, samples)
    assert not declared.passed and "perturbed references" in declared.reason and 'answers = "many"' in declared.reason
    assert check_wrong_answers(cover(), samples).passed


@pytest.mark.parametrize(("stem", "verify", "probe"), TWINS, ids=[t[1].__name__ for t in TWINS])
def test_the_lenient_twin_is_rejected(stem, verify, probe):
    env = twin(load(stem), verify)
    results = check_environment(env, seeds=SEEDS)
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed] == ["wrong_answers"], [r.to_dict() for r in failed]
    assert probe in failed[0].reason, failed[0].reason


def test_random_answers_keep_the_shape_and_differ_from_the_reference():
    rng = random.Random(3)
    answers = random_answers("3 12 7", "groups G1 .. G15, pick 3", rng)
    assert answers and all(a != "3 12 7" and len(a.split()) == 3 for a in answers)
    assert all(int(t) in range(3, 13) or int(t) in (1, 15, 3) for a in answers for t in a.split())
    moves = random_answers("RRDDL", "a maze", rng)
    assert moves and all(len(m) == 5 and set(m) <= set("RDL") and m != "RRDDL" for m in moves)
    assert random_answers("7", "no numbers here", rng) == []  # nothing to vary: no probe rather than the reference


def test_an_answers_declaration_is_part_of_the_contract():
    cover = load("sound_set_cover")
    bad = type("BadDeclaration", (cover,), {"__doc__": "Bad.", "answers": "several"})
    assert any("answers must be 'unique' or 'many'" in e for e in contract_errors(bad))
    algorithmic = type("Algorithmic", (cover,), {"__doc__": "A.", "asymmetry": "algorithmic"})()
    assert answer_kind(algorithmic) == "unique"
    declared = type("Declared", (cover,), {"__doc__": "D.", "asymmetry": "algorithmic", "answers": "many"})()
    assert answer_kind(declared) == "many"


def test_envfoundry_check_admits_the_cover_and_rejects_it_declared_unique(capsys, tmp_path):
    """The issue's path, as a user takes it: the file as written is admitted through every stage
    (the execution stage runs it in the sandbox, so the declaration crosses into the worker too)."""
    from envfoundry.cli.main import main

    source = (HERE / "sound_set_cover.py").read_text()
    assert main(["check", str(HERE / "sound_set_cover.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["admitted"] is True
    declared = tmp_path / "unique_cover.py"
    declared.write_text(
        source.replace('    asymmetry = "planted"\n', '    asymmetry = "planted"\n    answers = "unique"\n')
    )
    assert main(["check", str(declared), "--json"]) == 1
    execution = next(s for s in json.loads(capsys.readouterr().out)["stages"] if s["name"] == "execution")
    assert not execution["passed"] and "perturbed references" in execution["reason"]
