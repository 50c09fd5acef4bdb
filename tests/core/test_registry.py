import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import envfoundry
import envfoundry.envs
from envfoundry.core import load_class_from_file, register

MODULE = '''
import random
from envfoundry import Environment, IntParam, answer_instruction


class Echo{suffix}(Environment):
    """Repeat a number."""

    name = "echo{suffix}"
    asymmetry = "algorithmic"
    space = {{"n": IntParam(1, 100)}}

    def generate(self, rng, n):
        return {{"value": rng.randint(0, n)}}

    def prompt(self, state):
        return f"Repeat {{state['value']}}. " + answer_instruction("7")

    def reference(self, state):
        return str(state["value"])

    def verify(self, state, answer):
        return answer == str(state["value"])
'''


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_make_by_name_returns_a_fresh_environment():
    env = envfoundry.make("planted_subset_sum")
    assert env.name == "planted_subset_sum"
    assert env is not envfoundry.make("planted_subset_sum")


def test_make_from_a_module_file(tmp_path):
    path = write(tmp_path, "echo.py", MODULE.format(suffix=""))
    for spec in (str(path), path):
        env = envfoundry.make(spec)
        instance = env.sample(5, level=1.0)
        assert env.name == "echo" and env.score(instance, f"<answer>{instance.reference}</answer>").correct


def test_unknown_names_suggest_close_matches():
    with pytest.raises(ValueError, match="unknown environment 'planted_subsetsum'.*Did you mean 'planted_subset_sum'"):
        envfoundry.make("planted_subsetsum")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", "syntax error at line 1"),
        ("raise RuntimeError('no')\n", "importing .* raised RuntimeError: no"),
        ("x = 1\n", "exactly one subclass of envfoundry.Environment, found 0"),
        (MODULE.format(suffix="a") + MODULE.format(suffix="b"), "found 2"),
        (MODULE.format(suffix="").replace('asymmetry = "algorithmic"', 'asymmetry = "hard"'), "asymmetry must be"),
    ],
)
def test_bad_module_files_give_one_clear_error(tmp_path, text, message):
    path = write(tmp_path, "bad.py", text)
    with pytest.raises(ValueError, match=message):
        envfoundry.make(str(path))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="no environment file at"):
        envfoundry.make(str(tmp_path / "nope.py"))
    with pytest.raises(ValueError, match="cannot read environment file"):
        load_class_from_file(tmp_path / "nope.py")


def test_two_classes_cannot_share_a_name(tmp_path):
    first = load_class_from_file(write(tmp_path, "one.py", MODULE.format(suffix="dup")))
    register(first)
    register(first)  # registering the same class twice is harmless
    second = load_class_from_file(write(tmp_path, "two.py", MODULE.format(suffix="dup") + "\n# changed\n"))
    with pytest.raises(ValueError, match="already registered"):
        register(second)


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_the_seed_library_loads_on_first_use_not_on_import():
    out = _python(
        "import sys, envfoundry\n"
        "print('envfoundry.envs' in sys.modules)\n"
        "print(len(envfoundry.registered()) >= 14, 'envfoundry.envs' in sys.modules)\n"
    )
    assert out.splitlines() == ["False", "True True"]


def test_a_process_can_keep_the_seed_library_out():
    out = _python(
        "from envfoundry.core import registry\n"
        "registry.use_seed_library(False)\n"
        "print(registry.registered())\n"
        "registry.use_seed_library(True)\n"
        "print(len(registry.registered()) >= 14)\n"
        "try:\n"
        "    registry.use_seed_library(False)\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    assert out.splitlines() == ["[]", "True", "the seed library is already loaded in this process"]


def test_loading_a_seed_file_by_path_in_process_does_not_collide_with_the_seed():
    path = Path(envfoundry.envs.__file__).parent / "knapsack.py"
    env = envfoundry.make(path, sandbox=False)
    assert env.sample(3).to_dict() == envfoundry.make("knapsack").sample(3).to_dict()
    assert envfoundry.core.get_class("knapsack").__module__ == "envfoundry.envs.knapsack"
