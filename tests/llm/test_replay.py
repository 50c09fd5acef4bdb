"""The replay backend: fixed replies by rule, in order, for tests and reproductions."""

from __future__ import annotations

import json

import pytest

from envfoundry.errors import InvalidInputError
from envfoundry.llm import LLMError, ReplayChat, make_chat_model


def ask(model, text):
    return model.chat([{"role": "user", "content": text}]).text


def test_the_first_matching_rule_answers_in_order_and_then_from_the_start(tmp_path):
    rules = tmp_path / "replies.json"
    rules.write_text(json.dumps([{"when": "review", "replies": ["VERDICT: ACCEPT"]},
                                 {"replies": ["one", "two"]}]))  # fmt: skip
    model = make_chat_model(f"replay:{rules}")
    assert isinstance(model, ReplayChat) and model.name == "replay:replies.json"
    assert [ask(model, "write"), ask(model, "please review"), ask(model, "write"), ask(model, "write")] == [
        "one", "VERDICT: ACCEPT", "two", "one"]  # fmt: skip
    assert model.usage.requests == 4
    results = model.chat_many([[{"role": "user", "content": "x"}]] * 3)
    assert [r.text for r in results] == ["two", "one", "two"]


def test_an_unmatched_conversation_is_a_model_error_and_bad_files_are_one_sentence(tmp_path):
    model = ReplayChat([{"when": "only this", "replies": ["yes"]}])
    with pytest.raises(LLMError, match="no replay rule matches"):
        ask(model, "something else")
    assert isinstance(model.chat_many([[{"role": "user", "content": "nope"}]])[0], LLMError)
    with pytest.raises(InvalidInputError, match="cannot read the replay file"):
        ReplayChat(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(InvalidInputError, match="is not JSON"):
        ReplayChat(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError, match="rule 0 needs"):
        ReplayChat([{"replies": []}])
