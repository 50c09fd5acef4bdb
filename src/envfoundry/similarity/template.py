"""Prompt templates: an environment's sampled prompts with the data folded away, so that what is
compared is how the task is worded, not the numbers of one instance.

``prompt_template`` drops the shared answer instruction, writes digit runs as ``<n>`` and quoted
tokens as ``<s>``, folds runs of data tokens and lists of same-shaped lines into ``...``, and keeps
one template per distinct vocabulary. The novelty stage embeds it beside the code; the curriculum's
diversity embeds it with the description.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from envfoundry.core.answer import ANSWER_INSTRUCTION

_INSTRUCTION_RE = re.compile(re.escape(ANSWER_INSTRUCTION).replace(re.escape("{example}"), ".*?"), re.DOTALL)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_QUOTED_RE = re.compile(r"""(["'])([^\s"']{4,})\1""")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def _data_token(token: str) -> bool:
    return _WORD_RE.search(token.replace("<n>", "")) is None


def _template_line(line: str) -> str:
    """In a line of mostly data (numbers, grid cells, edges), runs of three or more data tokens become
    the first one and ``...``; in prose only runs of six or more do."""
    tokens = line.split()
    data = sum(map(_data_token, tokens))
    shortest = 3 if 2 * data >= len(tokens) else 6
    out: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _data_token(tokens[j]):
            j += 1
        if j - i >= shortest:
            out += [tokens[i], "..."]
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def _shape(line: str) -> frozenset[str]:
    return frozenset(word.lower() for word in _WORD_RE.findall(line.replace("<n>", "")))


def _template(prompt: str) -> str:
    text = _INSTRUCTION_RE.sub("", prompt)
    text = _NUMBER_RE.sub("<n>", text)
    text = _QUOTED_RE.sub(r"\1<s>\1", text)
    lines: list[str] = []
    group: frozenset[str] | None = None
    grouped = False
    for raw in text.splitlines():
        line = _template_line(raw)
        if not line:
            if lines and lines[-1]:
                lines.append("")
            group, grouped = None, False
            continue
        shape = _shape(line)
        # Consecutive lines of one shape (a list of items, clauses, edges, grid rows) become one and "...".
        same = group is not None and (shape == group or (shape and group and (shape <= group or group <= shape)))
        if same:
            if not grouped:
                lines.append("...")
                grouped = True
            group = group | shape
            continue
        lines.append(line)
        group, grouped = shape, False
    return "\n".join(lines).strip()


def prompt_template(prompts: Iterable[str]) -> str:
    """A template of an environment's prompts: the shared answer instruction dropped, digit runs as
    ``<n>``, quoted tokens as ``<s>``, runs of data tokens and lists of same-shaped lines folded into
    ``...``; the templates of the given prompts that differ in vocabulary, joined by blank lines."""
    seen: dict[frozenset[str], str] = {}
    for prompt in prompts:
        if isinstance(prompt, str) and prompt.strip():
            template = _template(prompt)
            seen.setdefault(_shape(template), template)
    return "\n\n".join(seen.values())
