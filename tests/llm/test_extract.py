"""extract_code on the kinds of replies models actually write."""

from __future__ import annotations

import ast

import pytest

from envfoundry.llm import extract_code

ENV = """import random

from envfoundry import Environment, IntParam, Score


class Countdown(Environment):
    name = "countdown"
    space = {"n": IntParam(2, 9)}

    def generate(self, rng: random.Random, n: int) -> dict:
        return {"n": n}

    def verify(self, state: dict, answer: str) -> Score:
        return Score(float(answer.strip() == str(state["n"])))
"""

HELPER = """def helper(x):
    return x * 2
"""


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code}```"


def test_plain_python_fence():
    assert extract_code(f"Here is the environment:\n\n{fenced(ENV)}\n\nIt counts down.") == ENV


@pytest.mark.parametrize("lang", ["python", "py", "Python", "python3", "", "python title=env.py", "{.python}"])
def test_fence_languages(lang):
    assert extract_code(f"Sure!\n{fenced(ENV, lang)}\nDone.") == ENV


def test_non_python_blocks_are_ignored():
    reply = (
        f'Install it:\n```bash\npip install envfoundry\n```\nExample output:\n```json\n{{"a": 1}}\n```\n{fenced(ENV)}'
    )
    assert extract_code(reply) == ENV


def test_environment_block_wins_over_longer_helper_block():
    long_helper = HELPER + "\n".join(f"VALUE_{i} = {i}" for i in range(80)) + "\n"
    reply = f"First a helper:\n{fenced(long_helper)}\nThen the environment:\n{fenced(ENV)}\nAnd usage:\n{fenced('print(1)')}"
    assert extract_code(reply) == ENV


def test_longest_parsing_block_when_no_environment():
    reply = f"{fenced('x = 1')}\nand\n{fenced(HELPER)}\nand\n```python\ndef broken(:\n    pass\n```"
    assert extract_code(reply) == HELPER


def test_block_that_parses_beats_longer_broken_environment():
    broken = ENV.replace(
        "def verify(self, state: dict, answer: str) -> Score:", "def verify(self, state, answer) -> Score"
    )
    assert extract_code(f"{fenced(broken)}\nFixed version:\n{fenced(ENV)}") == ENV


def test_missing_closing_fence_at_end_of_reply():
    assert extract_code(f"Here you go:\n```python\n{ENV}") == ENV


def test_truncated_reply_is_cut_back_to_what_parses():
    truncated = ENV + '\n    def prompt(self, state: dict) -> str:\n        return f"Count down from {state['
    code = extract_code(f"```python\n{truncated}")
    assert code is not None and code.startswith("import random") and "def verify" in code
    ast.parse(code)
    assert "def prompt" not in code


def test_missing_closing_fence_followed_by_prose():
    reply = f"```python\n{ENV}\nThis environment generates a number and checks the answer.\nHope this helps!"
    assert extract_code(reply) == ENV


def test_new_block_opened_without_closing_the_previous_one():
    reply = f"```python\n{HELPER}\n```python\n{ENV}```"
    assert extract_code(reply) == ENV


def test_closing_fence_glued_to_last_line():
    reply = "```python\n" + ENV.rstrip("\n") + "```\nThat's it."
    assert extract_code(reply) == ENV


def test_opening_fence_after_prose_on_the_same_line():
    assert extract_code(f"Here is the code: ```python\n{ENV}```") == ENV


def test_indented_fence_inside_a_list():
    indented = "\n".join(("   " + line) if line else "" for line in ENV.split("\n"))
    reply = f"1. Write the class:\n\n   ```python\n{indented}   ```\n2. Register it."
    assert extract_code(reply) == ENV


def test_tilde_fence_and_windows_newlines():
    reply = ("Code:\n~~~python\n" + ENV + "~~~\n").replace("\n", "\r\n")
    assert extract_code(reply) == ENV


def test_four_backtick_fence_containing_a_triple_backtick_string():
    code = 'PROMPT = """Answer inside\n```\n42\n```\n"""\n'
    assert extract_code(f"````python\n{code}````") == code


def test_unfenced_code_after_leading_prose():
    reply = f"Sure, here is an environment that counts down.\n\n{ENV}"
    assert extract_code(reply) == ENV


def test_unfenced_code_with_trailing_prose():
    reply = f"Here it is:\n{ENV}\nThis checks that the answer equals n."
    assert extract_code(reply) == ENV


def test_unfenced_prose_starting_with_from_is_skipped():
    reply = f"from the description, I will write this.\nclass is a keyword.\n{ENV}"
    assert extract_code(reply) == ENV


def test_thinking_is_ignored_in_favour_of_the_answer():
    draft = fenced("class Draft(Environment):\n    pass\n")
    reply = f"<think>Let me try a draft first.\n{draft}\nNo, better:</think>\n\nFinal answer:\n{fenced(ENV)}"
    assert extract_code(reply) == ENV


def test_code_only_inside_thinking_is_still_found():
    reply = f"<think>{fenced(ENV)}</think>\nI wrote the environment above."
    assert extract_code(reply) == ENV


def test_qualified_environment_base_is_recognised():
    qualified = "import envfoundry\n\n\nclass Tiny(envfoundry.Environment):\n    name = 'tiny'\n"
    reply = (
        f"{fenced(HELPER + chr(10) + 'X = [' + ', '.join(map(str, range(60))) + ']' + chr(10))}\n{fenced(qualified)}"
    )
    assert extract_code(reply) == qualified


def test_broken_python_block_is_returned_when_nothing_parses():
    broken = "class Broken(Environment):\n    def verify(self, state, answer)\n        return 1\n"
    assert extract_code(f"```python\n{broken}```") == broken


def test_unlabelled_block_of_prose_is_not_code():
    assert extract_code("The answer is:\n```\nforty two, as computed above\n```") is None


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   \n",
        "I cannot help with that.",
        "The function should import data from the file and classify it.",
        '```json\n{"code": null}\n```',
        "```python\n\n```",
    ],
)
def test_nothing_plausible_gives_none(reply):
    assert extract_code(reply) is None


def test_non_string_gives_none():
    assert extract_code(None) is None  # type: ignore[arg-type]


def test_result_ends_with_one_newline_and_no_trailing_spaces():
    code = extract_code("```python\nx = 1   \ny = 2\n\n\n```")
    assert code == "x = 1\ny = 2\n"
