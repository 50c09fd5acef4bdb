"""The project's own stdin/stdout problems, the source of ``stdio_problems.jsonl``.

Written for envfoundry to exercise the stdin/stdout path of ``envfoundry convert``: each has a
statement, one or two reference programs (reading with ``input()`` or ``sys.stdin``), an input
generator with its typed parameters (``n`` a size, ``v`` a largest value) and a few tests. One has
several right outputs and a validity verifier. ``python -m envfoundry.convert.data.stdio_problems``
rewrites the JSONL (a test checks the two agree).
"""

from __future__ import annotations

import json
from pathlib import Path

LIST_INPUT = '''
def generate_input(rng, n, v):
    values = [rng.randint(-v, v) for _ in range(rng.randint(max(1, n // 2), n))]
    return f"{len(values)}\\n{' '.join(map(str, values))}\\n"
'''
POSITIVE_LIST_INPUT = '''
def generate_input(rng, n, v):
    values = [rng.randint(1, v) for _ in range(rng.randint(max(1, n // 2), n))]
    return f"{len(values)}\\n{' '.join(map(str, values))}\\n"
'''
SIZES = {"n": {"type": "int", "low": 3, "high": 60}, "v": {"type": "int", "low": 9, "high": 1000}}
ONE_NUMBER = {"n": {"type": "int", "low": 5, "high": 5000}}


def _problem(task_id, statement, solutions, generator, params, tests, **extra):
    return {"task_id": task_id, "kind": "stdio", "statement": statement.strip(),
            "solutions": [s.strip() + "\n" for s in solutions],
            "input_generator": {"source": generator.strip() + "\n", "params": params},
            "tests": [{"input": i, "output": o} for i, o in tests], **extra}  # fmt: skip


PROBLEMS = [
    _problem("sum_of_list", "The first line holds n, the second n integers. Print their sum.",
             ["n = int(input())\nprint(sum(map(int, input().split())))"],
             LIST_INPUT, SIZES, [("3\n1 2 3\n", "6"), ("1\n-5\n", "-5")]),
    _problem("max_subarray", "The first line holds n, the second n integers. Print the largest sum of a "
             "non-empty contiguous run of them.",
             ["n = int(input())\na = list(map(int, input().split()))\nbest = cur = a[0]\nfor x in a[1:]:\n"
              "    cur = max(x, cur + x)\n    best = max(best, cur)\nprint(best)",
              "import sys\ndata = sys.stdin.read().split()\na = list(map(int, data[1:]))\nbest = max(a)\n"
              "for i in range(len(a)):\n    s = 0\n    for j in range(i, len(a)):\n        s += a[j]\n"
              "        best = max(best, s)\nprint(best)"],
             LIST_INPUT, SIZES, [("5\n-2 1 -3 4 -1\n", "4"), ("2\n-3 -1\n", "-1")]),
    _problem("count_inversions", "The first line holds n, the second n integers a1..an. Print how many pairs "
             "i < j have ai > aj.",
             ["n = int(input())\na = list(map(int, input().split()))\n"
              "print(sum(1 for i in range(n) for j in range(i + 1, n) if a[i] > a[j]))",
              "import sys\n\ndef sort(a):\n    if len(a) <= 1:\n        return a, 0\n    left, x = sort(a[:len(a) // 2])\n"
              "    right, y = sort(a[len(a) // 2:])\n    merged, count, i, j = [], x + y, 0, 0\n"
              "    while i < len(left) and j < len(right):\n        if right[j] < left[i]:\n"
              "            merged.append(right[j]); count += len(left) - i; j += 1\n        else:\n"
              "            merged.append(left[i]); i += 1\n    return merged + left[i:] + right[j:], count\n\n"
              "data = sys.stdin.read().split()\nprint(sort(list(map(int, data[1:])))[1])"],
             LIST_INPUT, SIZES, [("3\n3 1 2\n", "2"), ("4\n1 2 3 4\n", "0")]),
    _problem("gcd_of_list", "The first line holds n, the second n positive integers. Print their greatest "
             "common divisor.",
             ["import math\nn = int(input())\ng = 0\nfor x in map(int, input().split()):\n    g = math.gcd(g, x)\nprint(g)"],
             '''
def generate_input(rng, n, v):
    base = rng.randint(1, 12)
    values = [base * rng.randint(1, v) for _ in range(rng.randint(max(1, n // 2), n))]
    return f"{len(values)}\\n{' '.join(map(str, values))}\\n"
''', SIZES, [("3\n12 18 30\n", "6")]),
    _problem("bracket_depth", "One line holds a string of ( and ). Print the deepest nesting of the brackets, "
             "or -1 if they are not balanced.",
             ["s = input().strip()\ndepth = best = 0\nfor c in s:\n    depth += 1 if c == '(' else -1\n"
              "    if depth < 0:\n        break\n    best = max(best, depth)\nprint(best if depth == 0 else -1)"],
             '''
def generate_input(rng, n):
    out, depth = [], 0
    for _ in range(n):
        if depth and rng.random() < 0.45:
            out.append(")")
            depth -= 1
        else:
            out.append("(")
            depth += 1
    out += [")"] * depth
    if rng.random() < 0.2:
        out.insert(rng.randrange(len(out) + 1), rng.choice("()"))
    return "".join(out) + "\\n"
''', {"n": {"type": "int", "low": 4, "high": 400}}, [("(()())\n", "2"), ("())\n", "-1")]),
    _problem("matrix_trace", "The first line holds n; then n lines of n integers each. Print the sum of the "
             "main diagonal.",
             ["n = int(input())\nprint(sum(int(input().split()[i]) for i in range(n)))"],
             '''
def generate_input(rng, n, v):
    rows = [" ".join(str(rng.randint(-v, v)) for _ in range(n)) for _ in range(n)]
    return f"{n}\\n" + "\\n".join(rows) + "\\n"
''', {"n": {"type": "int", "low": 2, "high": 12}, "v": {"type": "int", "low": 9, "high": 999}},
             [("2\n1 2\n3 4\n", "5")]),
    _problem("most_frequent_word", "The first line holds n, the second n words. Print the word that occurs "
             "most often; among ties, the one first in alphabetical order.",
             ["from collections import Counter\nn = int(input())\nc = Counter(input().split())\n"
              "top = max(c.values())\nprint(min(w for w in c if c[w] == top))"],
             '''
def generate_input(rng, n, k):
    pool = ["".join(rng.choice("abcdefg") for _ in range(rng.randint(2, 4))) for _ in range(k)]
    words = [rng.choice(pool) for _ in range(rng.randint(max(1, n // 2), n))]
    return f"{len(words)}\\n{' '.join(words)}\\n"
''', {"n": {"type": "int", "low": 3, "high": 80}, "k": {"type": "int", "low": 6, "high": 40}},
             [("4\nab ba ab ba\n", "ab")]),
    _problem("binary_to_decimal", "One line holds a binary number. Print its value in decimal.",
             ["print(int(input().strip(), 2))"],
             '''
def generate_input(rng, n):
    return "1" + "".join(rng.choice("01") for _ in range(n - 1)) + "\\n"
''', {"n": {"type": "int", "low": 4, "high": 120}}, [("101\n", "5"), ("1\n", "1")]),
    _problem("power_digit_sum", "One line holds n. Print the sum of the decimal digits of 2 to the power n.",
             ["n = int(input())\nprint(sum(int(d) for d in str(2 ** n)))"],
             '''
def generate_input(rng, n):
    return f"{rng.randint(max(1, n // 2), n)}\\n"
''', ONE_NUMBER, [("15\n", "26")]),
    _problem("count_primes", "One line holds n. Print how many primes are at most n.",
             ["n = int(input())\nsieve = [True] * (n + 1)\ncount = 0\nfor i in range(2, n + 1):\n"
              "    if sieve[i]:\n        count += 1\n        for j in range(i * i, n + 1, i):\n            sieve[j] = False\n"
              "print(count)",
              "n = int(input())\nprint(sum(1 for k in range(2, n + 1) if all(k % d for d in range(2, int(k ** 0.5) + 1))))"],
             '''
def generate_input(rng, n):
    return f"{rng.randint(max(2, n // 2), n)}\\n"
''', ONE_NUMBER, [("10\n", "4"), ("2\n", "1")]),
    _problem("lis_length", "The first line holds n, the second n integers. Print the length of their longest "
             "strictly increasing subsequence.",
             ["import bisect\nn = int(input())\ntails = []\nfor x in map(int, input().split()):\n"
              "    i = bisect.bisect_left(tails, x)\n    tails[i:i + 1] = [x]\nprint(len(tails))"],
             LIST_INPUT, SIZES, [("6\n3 1 2 5 4 6\n", "4")]),
    _problem("edit_distance", "Two lines hold two words. Print the least number of single-letter insertions, "
             "deletions and substitutions that turn the first into the second.",
             ["a = input().strip()\nb = input().strip()\nrow = list(range(len(b) + 1))\nfor i, x in enumerate(a, 1):\n"
              "    prev, row[0] = row[0], i\n    for j, y in enumerate(b, 1):\n"
              "        prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))\nprint(row[-1])"],
             '''
def generate_input(rng, n):
    a = "".join(rng.choice("abc") for _ in range(rng.randint(max(1, n // 2), n)))
    b = "".join(rng.choice("abc") for _ in range(rng.randint(max(1, n // 2), n)))
    return f"{a}\\n{b}\\n"
''', {"n": {"type": "int", "low": 3, "high": 60}}, [("kitten\nsitting\n", "3")]),
    _problem("coin_change_ways", "The first line holds an amount and k; the second k distinct coin values. Print "
             "the number of ways to pay the amount with any number of coins of those values (order does not "
             "matter), modulo 1000000007.",
             ["amount, k = map(int, input().split())\ncoins = list(map(int, input().split()))\nways = [1] + [0] * amount\n"
              "for c in coins:\n    for s in range(c, amount + 1):\n        ways[s] = (ways[s] + ways[s - c]) % 1000000007\n"
              "print(ways[amount])"],
             '''
def generate_input(rng, n, v):
    coins = sorted(rng.sample(range(1, 30), rng.randint(2, 6)))
    amount = rng.randint(max(1, v // 2), v)
    return f"{amount} {len(coins)}\\n{' '.join(map(str, coins))}\\n"
''', {"n": {"type": "int", "low": 1, "high": 1}, "v": {"type": "int", "low": 10, "high": 3000}},
             [("5 3\n1 2 5\n", "4")]),
    _problem("grid_paths", "The first line holds r and c; then r lines of c characters, '.' open and '#' blocked. "
             "Print how many paths go from the top-left to the bottom-right cell moving only right or down "
             "through open cells, modulo 1000000007.",
             ["r, c = map(int, input().split())\ng = [input().strip() for _ in range(r)]\nways = [0] * c\n"
              "for i in range(r):\n    for j in range(c):\n        if g[i][j] == '#':\n            ways[j] = 0\n"
              "        elif i == 0 and j == 0:\n            ways[j] = 1\n        elif j > 0:\n"
              "            ways[j] = (ways[j] + ways[j - 1]) % 1000000007\nprint(ways[-1])"],
             '''
def generate_input(rng, n):
    rows = ["".join("#" if rng.random() < 0.15 else "." for _ in range(n)) for _ in range(n)]
    rows[0] = "." + rows[0][1:]
    rows[-1] = rows[-1][:-1] + "."
    return f"{n} {n}\\n" + "\\n".join(rows) + "\\n"
''', {"n": {"type": "int", "low": 3, "high": 20}}, [("2 2\n..\n..\n", "2")]),
    _problem("count_islands", "The first line holds r and c; then r lines of c characters, '#' land and '.' "
             "water. Print how many islands there are (land cells joined up, down, left or right).",
             ["import sys\nr, c = map(int, sys.stdin.readline().split())\ng = [list(sys.stdin.readline().strip()) for _ in range(r)]\n"
              "count = 0\nfor i in range(r):\n    for j in range(c):\n        if g[i][j] == '#':\n            count += 1\n"
              "            stack = [(i, j)]\n            g[i][j] = '.'\n            while stack:\n"
              "                a, b = stack.pop()\n                for x, y in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):\n"
              "                    if 0 <= x < r and 0 <= y < c and g[x][y] == '#':\n"
              "                        g[x][y] = '.'\n                        stack.append((x, y))\nprint(count)"],
             '''
def generate_input(rng, n):
    rows = ["".join("#" if rng.random() < 0.4 else "." for _ in range(n)) for _ in range(n)]
    return f"{n} {n}\\n" + "\\n".join(rows) + "\\n"
''', {"n": {"type": "int", "low": 3, "high": 24}}, [("2 3\n#.#\n#..\n", "2")]),
    _problem("fibonacci_mod", "One line holds n and m. Print the n-th Fibonacci number (F0 = 0, F1 = 1) modulo m.",
             ["n, m = map(int, input().split())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % m\nprint(a)"],
             '''
def generate_input(rng, n, v):
    return f"{rng.randint(max(1, n // 2), n)} {rng.randint(2, v)}\\n"
''', {"n": {"type": "int", "low": 5, "high": 5000}, "v": {"type": "int", "low": 50, "high": 10**9}},
             [("10 100\n", "55")]),
    _problem("josephus", "One line holds n and k. n people stand in a circle, numbered 1 to n; counting from "
             "person 1, every k-th person leaves. Print the number of the last one left.",
             ["n, k = map(int, input().split())\nlast = 0\nfor size in range(2, n + 1):\n    last = (last + k) % size\n"
              "print(last + 1)",
              "n, k = map(int, input().split())\npeople = list(range(1, n + 1))\ni = 0\nwhile len(people) > 1:\n"
              "    i = (i + k - 1) % len(people)\n    people.pop(i)\nprint(people[0])"],
             '''
def generate_input(rng, n):
    return f"{rng.randint(max(1, n // 2), n)} {rng.randint(2, 9)}\\n"
''', {"n": {"type": "int", "low": 5, "high": 2000}}, [("7 3\n", "4")]),
    _problem("longest_collatz", "One line holds n. Print the starting number at most n whose Collatz sequence "
             "(halve even numbers, take 3x + 1 of odd ones, stop at 1) is longest; among ties, the smallest.",
             ["n = int(input())\nbest, arg = 0, 1\nfor s in range(1, n + 1):\n    x, steps = s, 0\n    while x != 1:\n"
              "        x = x // 2 if x % 2 == 0 else 3 * x + 1\n        steps += 1\n    if steps > best:\n"
              "        best, arg = steps, s\nprint(arg)"],
             '''
def generate_input(rng, n):
    return f"{rng.randint(max(1, n // 2), n)}\\n"
''', {"n": {"type": "int", "low": 5, "high": 300}}, [("10\n", "9")]),
    _problem("second_largest", "The first line holds n, the second n integers. Print the second largest "
             "distinct value, or NONE if there is none.",
             ["n = int(input())\nvalues = sorted(set(map(int, input().split())))\n"
              "print(values[-2] if len(values) > 1 else 'NONE')"],
             LIST_INPUT, SIZES, [("4\n3 1 3 2\n", "2"), ("2\n5 5\n", "NONE")]),
    _problem("run_length", "One line holds a word. Print the length of its longest run of one repeated letter "
             "and the letter, separated by a space (among ties, the run that comes first).",
             ["s = input().strip()\nbest, letter, i = 0, '', 0\nwhile i < len(s):\n    j = i\n    while j < len(s) and s[j] == s[i]:\n"
              "        j += 1\n    if j - i > best:\n        best, letter = j - i, s[i]\n    i = j\nprint(best, letter)"],
             '''
def generate_input(rng, n):
    return "".join(rng.choice("ab" if rng.random() < 0.5 else "abcd") for _ in range(n)) + "\\n"
''', {"n": {"type": "int", "low": 4, "high": 300}}, [("aabbbc\n", "3 b")]),
    _problem("digital_root_sum", "The first line holds n, the second n positive integers. Print the sum of their "
             "digital roots (repeatedly add a number's digits until one digit is left).",
             ["n = int(input())\nprint(sum(1 + (x - 1) % 9 for x in map(int, input().split())))",
              "n = int(input())\ntotal = 0\nfor x in map(int, input().split()):\n    while x >= 10:\n"
              "        x = sum(map(int, str(x)))\n    total += x\nprint(total)"],
             POSITIVE_LIST_INPUT, SIZES, [("2\n38 9\n", "11")]),
    _problem("pair_with_sum", "The first line holds n and t, the second n integers a1..an. Print two positions "
             "i < j (1-based) with ai + aj = t, separated by a space; any such pair is right. There is always one.",
             ["n, t = map(int, input().split())\na = list(map(int, input().split()))\nseen = {}\nfor j, x in enumerate(a):\n"
              "    if t - x in seen:\n        print(seen[t - x] + 1, j + 1)\n        break\n    seen.setdefault(x, j)"],
             '''
def generate_input(rng, n, v):
    a = [rng.randint(1, v) for _ in range(rng.randint(max(2, n // 2), n))]
    i, j = rng.sample(range(len(a)), 2)
    return f"{len(a)} {a[i] + a[j]}\\n{' '.join(map(str, a))}\\n"
''', SIZES, [],
             answers="many",
             validator='''
def validate(input, output):
    head, values = input.split("\\n")[:2]
    t = int(head.split()[1])
    a = list(map(int, values.split()))
    parts = output.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return False
    i, j = int(parts[0]), int(parts[1])
    return 1 <= i < j <= len(a) and a[i - 1] + a[j - 1] == t
'''),
]


def write(path: Path | None = None) -> Path:
    path = path or Path(__file__).with_name("stdio_problems.jsonl")
    path.write_text("".join(json.dumps(p, sort_keys=True) + "\n" for p in PROBLEMS), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write())
