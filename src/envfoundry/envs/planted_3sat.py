"""Planted 3-SAT: find a truth assignment that satisfies every clause of a 3-CNF formula.

A hidden assignment is drawn first and every clause is built so that it holds under it, so the
formula is always satisfiable; ``verify`` evaluates every clause and accepts *any* satisfying
assignment, not only the planted one.

Clauses are drawn "balanced": the number of literals that the planted assignment makes true is
1, 2 or 3 with probabilities 6/10, 3/10, 1/10, so on average half the literals of a variable are
positive and half negative. With plain 7/8 planting each variable appears more often with its
planted sign, and counting signs (a majority vote) would reveal most of the hidden assignment.
"""

from __future__ import annotations

import math
import random

from envfoundry.core import Environment, FloatParam, IntParam, Score, answer_instruction, parse_int_list, register

# Out of 10: r < 6 makes one literal true (which one: r // 2), 6 <= r < 9 makes all but literal
# r - 6 true, r == 9 makes all three true. Expected true literals per clause = 1.5 = half of 3.
_PATTERNS: tuple[tuple[bool, bool, bool], ...] = (
    (True, False, False),
    (True, False, False),
    (False, True, False),
    (False, True, False),
    (False, False, True),
    (False, False, True),
    (False, True, True),
    (True, False, True),
    (True, True, False),
    (True, True, True),
)


class Planted3Sat(Environment):
    """Find a truth assignment of n Boolean variables that satisfies every clause of a 3-CNF
    formula (each clause is an OR of three literals over distinct variables). The formula is
    built around a hidden assignment, so it is always satisfiable; any satisfying assignment
    is accepted. The answer lists n signed integers in variable order: k if xk is true, -k if
    xk is false. Reward is 0 or 1 (no partial credit: a random assignment already satisfies
    about 7/8 of the clauses, so a clause-fraction reward would mostly pay for guessing)."""

    name = "planted_3sat"
    asymmetry = "planted"
    family = "constraint"
    space = {
        "n": IntParam(6, 40, description="number of Boolean variables"),
        "ratio": FloatParam(
            2.5,
            4.26,
            description="clauses per variable; near 4.26 satisfying assignments are rarest and hardest to find",
        ),
    }

    def generate(self, rng: random.Random, n: int, ratio: float) -> dict:
        bits = rng.getrandbits(n)
        # planted[k] is the value of xk; slot 0 is unused.
        planted = [False] + [bool(bits >> k & 1) for k in range(n)]
        m = max(1, round(n * ratio))
        # Distinct clauses only (a repeated clause adds no constraint); the cap keeps the loop finite
        # even for tiny n, where few distinct clauses exist.
        limit = min(m, 7 * math.comb(n, 3))
        seen: set[tuple[int, ...]] = set()
        clauses: list[list[int]] = []
        # int(random() * n) instead of randrange: same job, a fraction of the cost per call.
        rand = rng.random
        while len(clauses) < limit:
            # Three distinct variables by rejection: much cheaper than rng.sample for 3 of n.
            a = int(rand() * n) + 1
            b = int(rand() * n) + 1
            while b == a:
                b = int(rand() * n) + 1
            c = int(rand() * n) + 1
            while c == a or c == b:
                c = int(rand() * n) + 1
            a, b, c = sorted((a, b, c))
            p0, p1, p2 = _PATTERNS[int(rand() * 10)]
            # A literal is true under the plant when its sign matches the planted value.
            clause = (
                a if planted[a] == p0 else -a,
                b if planted[b] == p1 else -b,
                c if planted[c] == p2 else -c,
            )
            if clause in seen:
                continue
            seen.add(clause)
            clauses.append(list(clause))
        return {"n": n, "clauses": clauses, "planted": [int(b) for b in planted[1:]]}

    def prompt(self, state: dict) -> str:
        n = state["n"]
        # Text of every literal, indexed by the literal itself (negative indices wrap to the end).
        text = [""] * (2 * n + 1)
        for k in range(1, n + 1):
            text[k], text[-k] = f"x{k}", f"NOT x{k}"
        lines = "\n".join(
            f"{i}. ({text[a]} OR {text[b]} OR {text[c]})" for i, (a, b, c) in enumerate(state["clauses"], 1)
        )
        example = " ".join(str(k if k % 2 else -k) for k in range(1, min(n, 4) + 1))
        return (
            f"There are {n} Boolean variables x1, x2, ..., x{n}. Find values for them that make every one of "
            f"the following {len(state['clauses'])} clauses true. A clause is true when at least one of its "
            f"three parts is true; 'NOT xk' is true exactly when xk is false.\n\n{lines}\n\n"
            f"Answer with exactly {n} integers separated by spaces, one per variable in order x1 to x{n}: "
            f"write k if xk is true and -k if xk is false (for example '{example}' starts an answer with "
            f"x1 true, x2 false, x3 true, x4 false). Any assignment that satisfies every clause is accepted.\n"
            + answer_instruction(example + (" ..." if n > 4 else ""))
        )

    def reference(self, state: dict) -> str:
        return " ".join(str(k if value else -k) for k, value in enumerate(state["planted"], 1))

    def verify(self, state: dict, answer: str) -> Score:
        n = state["n"]
        literals = parse_int_list(answer.strip().rstrip(".").strip())
        if literals is None:
            return Score(0.0, f"answer must be {n} integers separated by spaces (k for true, -k for false)")
        # DIMACS lines end in 0; tolerate that one terminator, nothing else.
        if len(literals) == n + 1 and literals[-1] == 0:
            literals.pop()
        if len(literals) != n:
            return Score(0.0, f"expected exactly {n} literals, got {len(literals)}", {"failure": "length"})
        # holds[lit] says whether literal lit is true (negative indices wrap), so a clause is 3 lookups.
        holds = [False] * (2 * n + 1)
        seen = [False] * (n + 1)
        for literal in literals:
            variable = abs(literal)
            if not 1 <= variable <= n:
                return Score(
                    0.0, f"{literal} names no variable (variables are 1..{n})", {"failure": "unknown_variable"}
                )
            if seen[variable]:
                return Score(0.0, f"variable x{variable} is given more than once", {"failure": "duplicate"})
            seen[variable] = True
            holds[literal] = True
        for position, literal in enumerate(literals, 1):
            if abs(literal) != position:
                return Score(
                    0.0,
                    f"literal {position} is {literal}: list one literal per variable in order x1..x{n}",
                    {"failure": "order"},
                )
        for index, (a, b, c) in enumerate(state["clauses"], 1):
            if not (holds[a] or holds[b] or holds[c]):
                return Score(0.0, f"clause {index} is false under this assignment", {"failure": "unsatisfied"})
        return Score(1.0, "every clause is satisfied")

    def complexity(self, state: dict) -> float:
        # Variables plus clauses: the size of the formula a solver has to keep consistent.
        return float(state["n"] + len(state["clauses"]))


register(Planted3Sat)
