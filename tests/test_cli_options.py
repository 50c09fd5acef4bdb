"""Command-line options come from the config dataclasses: one default, one help text, per setting."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

import pytest

from envfoundry.cli.main import build_parser
from envfoundry.cli.options import add_options, flag, options_from
from envfoundry.train.run import WARMUP_OUT, TrainConfig
from envfoundry.train.warmup import WarmupConfig


def subparser(name: str) -> argparse.ArgumentParser:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize(("command", "config"), [("train", TrainConfig), ("warmup", WarmupConfig)])
def test_every_field_is_an_option_with_the_fields_default_and_help(command, config):
    options = {action.dest: action for action in subparser(command)._actions}
    for field in dataclasses.fields(config):
        action = options[field.name]
        assert flag(field) in action.option_strings
        assert action.default == field.default and field.metadata["help"] in action.help


def test_the_command_line_builds_the_config_it_describes():
    args = subparser("train").parse_args(["--groups", "3", "--format-reward", "0.1", "--eval-levels", "0,0.5",
                                          "--eval-envs", "countdown,rg:chain_sum", "--resume"])  # fmt: skip
    config = TrainConfig(**options_from(args, TrainConfig))
    assert config == TrainConfig(groups_per_step=3, format_weight=0.1, eval_levels=[0.0, 0.5],
                                 eval_envs=["countdown", "rg:chain_sum"], resume=True)  # fmt: skip
    assert TrainConfig(**options_from(subparser("train").parse_args([]), TrainConfig)) == TrainConfig()
    warm = subparser("warmup").parse_args(["--steps", "5"])
    assert warm.out == WARMUP_OUT and WarmupConfig(**options_from(warm, WarmupConfig)) == WarmupConfig(steps=5)


def test_a_bad_list_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        subparser("train").parse_args(["--eval-levels", "0,x"])
    assert info.value.code == 2 and "takes comma-separated float values, got '0,x'" in capsys.readouterr().err


def test_an_unsupported_field_type_is_refused_when_the_parser_is_built():
    @dataclasses.dataclass
    class Odd:
        mapping: dict = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match="cannot make a command-line option for --mapping"):
        add_options(argparse.ArgumentParser(), Odd)


def test_sequence_fields_show_their_default_comma_separated():
    @dataclasses.dataclass
    class Levels:
        levels: Sequence[float] = dataclasses.field(default=(0.0, 0.5), metadata={"help": "levels"})

    parser = argparse.ArgumentParser()
    add_options(parser, Levels)
    assert "(default: 0.0,0.5)" in parser.format_help() and parser.parse_args(["--levels", "1"]).levels == [1.0]
