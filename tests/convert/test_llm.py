"""``envfoundry convert --llm``: a model writes input generators; its code runs only in the sandbox,
and a problem whose written generator fails falls back to growing its examples by mutation.

The model is scripted (replies fixed per problem); the path to a real server is the one
``tests/llm`` drives against ``transformers serve``."""

from __future__ import annotations

import json

import envfoundry
from envfoundry.archive import Archive
from envfoundry.convert import problems
from envfoundry.convert.convert import Converter

SUM_STDIO = "The first line holds n, the second n integers. Print their sum."
VOWELS = "Return how many vowels (a, e, i, o, u) the string s holds."
SQUARES = "Return the sum of the squares of the numbers in xs."

WRITTEN = {
    SUM_STDIO: '''Here it is:
```python
def generate_input(rng, size, magnitude):
    values = [rng.randint(-magnitude, magnitude) for _ in range(rng.randint(1, size))]
    return f"{len(values)}\\n{' '.join(map(str, values))}\\n"
```''',
    VOWELS: "Sorry, I can only describe it in words.",  # no code: the examples are mutated
    SQUARES: "```python\ndef generate_input(rng, size, magnitude):\n    return 'not an argument list'\n```",
}


def _writer(messages):
    """The reply written for the problem the conversation asks about."""
    return next(reply for statement, reply in WRITTEN.items() if statement in messages[-1]["content"])


def test_a_model_written_generator_converts_a_stdio_problem_and_a_failed_one_falls_back(tmp_path, scripted_chat):
    rows = [
        {"task_id": "sum_stdio", "kind": "stdio", "statement": SUM_STDIO,
         "solution": "n = int(input())\nprint(sum(map(int, input().split())))\n",
         "tests": [{"input": "3\n1 2 3\n", "output": "6"}]},
        {"task_id": "vowels", "statement": VOWELS, "entry_point": "vowels",
         "solution": "def vowels(s):\n    return sum(ch in 'aeiou' for ch in s)\n", "examples": [["banana"], ["sky"]]},
        {"task_id": "squares", "statement": SQUARES, "entry_point": "squares",
         "solution": "def squares(xs):\n    return sum(x * x for x in xs)\n", "examples": [[[1, 2, 3]], [[-4]]]},
    ]  # fmt: skip
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    loaded = problems.load_jsonl(path)
    without = Converter(None).run(loaded[:1], progress=False)[0]
    assert without.stage == "template" and "needs an input generator" in without.reason

    model = scripted_chat(_writer)
    with Archive(tmp_path / "archive") as archive:
        outcomes = {o.problem.split(":")[1]: o for o in Converter(archive, generator=model).run(loaded, progress=False)}
        lineage = {env.name: env.lineage for env in archive.environments()}
    assert len(model.seen) == 3  # one call per problem without a generator of its own
    asked = [messages[-1]["content"] for messages in model.seen]
    assert "3\n1 2 3" in asked[0] and '["banana"]' in asked[1]  # the model sees the examples
    assert (outcomes["sum_stdio"].converted, outcomes["sum_stdio"].inputs) == (True, "llm"), outcomes["sum_stdio"].reason
    assert (outcomes["vowels"].converted, outcomes["vowels"].inputs) == (True, "mutation"), outcomes["vowels"].reason
    assert (outcomes["squares"].converted, outcomes["squares"].inputs) == (True, "mutation"), outcomes["squares"].reason
    sum_name = outcomes["sum_stdio"].name
    assert lineage[sum_name]["generator"] == "scripted" and lineage[sum_name]["task_id"] == "sum_stdio"
    assert lineage[outcomes["squares"].name]["generator"] is None  # its inputs are the mutated examples

    env = envfoundry.make(outcomes["vowels"].name, archive=tmp_path / "archive")
    try:  # the format example is the same for every instance, and no instance's answer is it
        instances = env.sample_many(list(range(150)), level=0.25)
        examples = {i.prompt.rsplit("for example <answer>", 1)[1].split("</answer>")[0] for i in instances}
        references = {int(i.reference) for i in instances}
        assert examples == {"7"} and 7 not in references and {6, 8} <= references  # 7 was a likely answer
    finally:
        env.close()
