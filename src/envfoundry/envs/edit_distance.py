"""Edit distance: the Levenshtein distance between two strings.

The second string is derived from the first by random single-character edits, so the two are
related (as in spelling correction or sequence alignment), but the distance can be smaller than
the number of edits applied: edits may cancel or admit a cheaper alignment, so the answer must
be computed, not counted. The dynamic programme (in Myers' bit-parallel form) computes it at
generation time.
"""

from __future__ import annotations

import random
import string

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int, register


def levenshtein(a: str, b: str) -> int:
    """Minimum number of insertions, deletions and substitutions (each cost 1) turning a into b.

    Myers' bit-parallel form of the textbook dynamic programme (as refined by Hyyrö): one column
    of the DP table is held as two bit vectors of +1 / -1 vertical differences (``pv`` / ``mv``),
    so each character of ``b`` costs a handful of integer operations instead of a Python loop over
    ``a``. Python's unbounded integers hold a column of any length. The tests check it against the
    plain recursion.
    """
    m = len(a)
    if not m:
        return len(b)
    peq: dict[str, int] = {}  # for each letter, the bit mask of its positions in a
    for i, c in enumerate(a):
        peq[c] = peq.get(c, 0) | 1 << i
    full = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = full, 0, m  # first column: D[i][0] = i, all vertical differences +1
    get = peq.get
    for c in b:
        eq = get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | ~(xh | pv)
        mh = pv & xh
        # The bottom cell's horizontal difference moves the running distance D[m][j].
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        # The top row D[0][j] = j rises by one per column, hence the 1 shifted into ph.
        ph = (ph << 1) | 1
        mh <<= 1
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv & full
    return score


# The format example is 0, which is never right (B always differs from A), so copying it earns
# nothing; a typical distance such as 7 was the answer to about a quarter of default-level instances.
_INSTRUCTION = answer_instruction("0")


class EditDistance(Environment):
    """Compute the Levenshtein edit distance between two strings: the minimum number of
    single-character insertions, deletions and substitutions (each costing 1) that turn the first
    string into the second. The answer is one integer, checked exactly against the dynamic
    programme; there is no partial credit (an off-by-one distance is simply wrong). Harder levels
    use longer strings, a smaller alphabet (more ways to align the strings) and more edits between
    them."""

    name = "edit_distance"
    asymmetry = "algorithmic"
    family = "strings"
    space = {
        "length": IntParam(4, 40, description="length of the first string"),
        "alphabet": IntParam(
            2, 26, harder="down", scale="log", description="how many distinct letters the strings use"
        ),
        "edit_rate": FloatParam(
            0.1, 0.6, description="random edits (about) applied to derive the second string, per character of the first"
        ),
    }

    def generate(self, rng: random.Random, length: int, alphabet: int, edit_rate: float) -> dict:
        randint = rng.randint
        # int(rand() * k) draws from range(k) faster than rng.randint; it still uses only ``rng``.
        rand = rng.random
        letters = "".join(sorted(rng.sample(string.ascii_lowercase, alphabet)))
        top = alphabet - 1
        first = [letters[int(rand() * alphabet)] for _ in range(length)]
        second = list(first)
        # The edit count varies around edit_rate * length, so no level has a constant answer.
        target = max(1, round(edit_rate * length))
        for _ in range(randint(max(1, target - target // 3), target + 1)):
            kind = int(rand() * 3)
            if kind == 0 or not second:  # insert a letter anywhere, ends included
                second.insert(int(rand() * (len(second) + 1)), letters[int(rand() * alphabet)])
            elif kind == 1:  # delete a letter
                del second[int(rand() * len(second))]
            else:  # substitute a letter by a different one
                i = int(rand() * len(second))
                second[i] = letters[(letters.index(second[i]) + 1 + int(rand() * top)) % alphabet]
        if second == first:
            # The edits cancelled out; one more substitution keeps the task from being trivial.
            i = int(rand() * length)
            second[i] = letters[(letters.index(second[i]) + 1 + int(rand() * top)) % alphabet]
        a, b = "".join(first), "".join(second)
        return {"a": a, "b": b, "distance": levenshtein(a, b)}

    def prompt(self, state: dict) -> str:
        return (
            f'String A: "{state["a"]}" ({len(state["a"])} letters)\n'
            f'String B: "{state["b"]}" ({len(state["b"])} letters)\n\n'
            f"What is the edit (Levenshtein) distance between A and B: the minimum number of "
            f"single-letter insertions, deletions and substitutions, each costing 1, needed to turn A "
            f"into B? Answer with a single integer.\n" + _INSTRUCTION
        )

    def reference(self, state: dict) -> str:
        return str(state["distance"])

    def verify(self, state: dict, answer: str) -> Score:
        value = parse_int(answer)
        if value is None:
            return Score(0.0, "answer must be a single integer")
        if value == state["distance"]:
            return Score(1.0, "correct distance")
        return Score(0.0, f"{value} is not the edit distance", {"value": value})

    def complexity(self, state: dict) -> float:
        # Cells of the dynamic-programming table.
        return float((len(state["a"]) + 1) * (len(state["b"]) + 1))


register(EditDistance)
