"""The one answer convention: the last ``<answer>…</answer>`` block of a response.

Helpers here parse the common answer shapes strictly, so that a verifier never accepts a
"shotgun" answer that lists many candidates.
"""

from __future__ import annotations

import bisect
import re

ANSWER_INSTRUCTION = (
    "Think as long as you need, then give your final answer inside <answer></answer> tags, "
    "for example <answer>{example}</answer>. Only the last <answer> block is read."
)

_OPEN_RE = re.compile(r"<answer>", re.IGNORECASE)
_CLOSE_RE = re.compile(r"</answer>", re.IGNORECASE)
_INT_RE = re.compile(r"[-+]?[0-9]+")
_NATURAL_RE = re.compile(r"[0-9]+")
_TOKEN_SPLIT_RE = re.compile(r"[\s,;]+")
# References shorter than this are not looked for in their prompt ("3" or "yes" appear by chance).
LEAK_MIN_CHARS = 8


def extract_answer(response: str) -> str | None:
    """Return the stripped text of the last ``<answer>…</answer>`` block, or None if there is none.

    The last block starts at the last opening tag that is closed later, and ends at the first
    closing tag after it. Linear in the response length even for adversarial text (many opening
    tags and no closing one), where a lazy regular expression would be quadratic.
    """
    if not isinstance(response, str):
        return None
    if response.isascii():
        # The same search on the lowercased text with str.find (lowercasing ASCII keeps every index).
        lowered = response.lower()
        last_close = lowered.rfind("</answer>")
        if last_close < 0:
            return None
        start = lowered.rfind("<answer>", 0, last_close)
        if start < 0:
            return None
        start += len("<answer>")
        return response[start : lowered.find("</answer>", start)].strip()
    return _extract_by_regex(response)


def _extract_by_regex(response: str) -> str | None:
    """``extract_answer`` for any text (case-insensitive tags found by regular expressions)."""
    closes = [m.start() for m in _CLOSE_RE.finditer(response)]
    if not closes:
        return None
    opens = [m.end() for m in _OPEN_RE.finditer(response, 0, closes[-1])]
    if not opens:
        return None
    start = opens[-1]
    end = closes[bisect.bisect_left(closes, start)]
    return response[start:end].strip()


def shows_answer(prompt: str, reference: str) -> bool:
    """True when ``prompt`` holds ``reference`` (of ``LEAK_MIN_CHARS`` or more once stripped)
    verbatim, or with all whitespace removed from both: a model could copy the answer out of it."""
    reference = reference.strip()
    if len(reference) < LEAK_MIN_CHARS:
        return False
    return reference in prompt or "".join(reference.split()) in "".join(prompt.split())


def wrap_answer(answer: str) -> str:
    """The response that carries ``answer`` in the convention: the inverse of ``extract_answer``."""
    return f"<answer>{answer}</answer>"


def answer_instruction(example: str) -> str:
    """The sentence every prompt ends with, showing the expected answer shape."""
    return ANSWER_INSTRUCTION.format(example=example)


def parse_int(answer: str) -> int | None:
    """Exactly one integer (a trailing full stop is tolerated), else None."""
    text = answer.strip().rstrip(".").strip()
    if not _INT_RE.fullmatch(text):
        return None
    # Refuse absurdly long numbers: int() on them is slow and they are never right.
    if len(text) > 64:
        return None
    return int(text)


def _unwrap(answer: str) -> str:
    """Strip whitespace, one trailing full stop and one pair of enclosing brackets."""
    text = answer.strip().rstrip(".").strip()
    if len(text) >= 2 and text[0] in "[(" and text[-1] in "])":
        text = text[1:-1]
    return text


def parse_int_list(answer: str, *, negative: bool = True, max_digits: int = 64) -> list[int] | None:
    """Integers separated by spaces, commas or semicolons, optionally in brackets, a trailing full
    stop tolerated; None if any token is not an ASCII integer (or is negative when ``negative`` is
    False, or has more than ``max_digits`` digits)."""
    pattern = _INT_RE if negative else _NATURAL_RE
    tokens = [t for t in _TOKEN_SPLIT_RE.split(_unwrap(answer)) if t]
    if not tokens or any(not pattern.fullmatch(t) or len(t.lstrip("+-")) > max_digits for t in tokens):
        return None
    return [int(t) for t in tokens]


def parse_moves(answer: str, alphabet: str = "UDLR") -> str | None:
    """A move string over ``alphabet`` (any case; spaces, commas or semicolons between moves;
    optional brackets and trailing full stop), upper-cased; None if empty or anything else is in it."""
    moves = _TOKEN_SPLIT_RE.sub("", _unwrap(answer)).upper()
    if not moves or moves.strip(alphabet):
        return None
    return moves


def split_tokens(answer: str) -> list[str]:
    """Tokens separated by whitespace, commas or semicolons."""
    return [t for t in _TOKEN_SPLIT_RE.split(answer.strip()) if t]
