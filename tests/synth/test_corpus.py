"""The validation pipeline on a corpus of candidates written for the tests: sound ones are
admitted, each kind of unsound one is rejected at the stage that must catch it, for its reason.

Each file's first line says what must happen: ``# expect: admitted`` or
``# expect: rejected at <stage>: <phrase in the reason>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envfoundry.similarity import NoveltyIndex
from envfoundry.synth.pipeline import validate
from envfoundry.synth.stages.base import Candidate, Context

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.py"))
_EXPECT = re.compile(r"# expect: (admitted|rejected at (\w+): (.+))")


def expectation(path: Path) -> tuple[str | None, str | None]:
    match = _EXPECT.match(path.read_text().splitlines()[0])
    assert match, f"{path.name} must start with an '# expect:' line"
    return (None, None) if match.group(1) == "admitted" else (match.group(2), match.group(3).strip().lower())


@pytest.fixture(scope="module")
def seeds_index():
    return NoveltyIndex.for_seeds()


def test_the_corpus_covers_every_kind_of_candidate():
    stages = [expectation(path)[0] for path in CORPUS]
    assert len(CORPUS) >= 20
    assert stages.count(None) >= 5 and {"static", "execution", "novelty"} <= set(stages)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_each_candidate_meets_its_expectation(path, seeds_index):
    stage, phrase = expectation(path)
    result = validate(Candidate(path.read_text(), filename=path.name), Context(novelty_index=seeds_index))
    outcome = result.to_dict()
    if stage is None:
        assert result.admitted, outcome
    else:
        assert not result.admitted and result.failed.name == stage, outcome
        assert phrase in result.failed.reason.lower(), (phrase, result.failed.reason)
