"""Prompt templates fold an instance's data away and keep the task's wording."""

from __future__ import annotations

from envfoundry.similarity import prompt_template


def test_prompt_template_folds_numbers_instruction_and_lists():
    prompt = (
        "You have 3 items:\n\nItem 1: weight 10, value 4\nItem 2: weight 7, value 9\nItem 3: weight 2, value 1\n\n"
        "Numbers: 4 8 15 16 23 42\nChoose well.\nThink as long as you need, then give your final answer inside "
        "<answer></answer> tags, for example <answer>1 2</answer>. Only the last <answer> block is read."
    )
    template = prompt_template([prompt, prompt.replace("10", "11")])
    assert template == "You have <n> items:\n\nItem <n>: weight <n>, value <n>\n...\n\nNumbers: <n> ...\nChoose well."
    assert prompt_template([]) == ""
