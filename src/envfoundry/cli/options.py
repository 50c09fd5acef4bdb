"""Command-line options generated from a config dataclass, so each default is written once.

Each field becomes ``--field-name`` (underscores to dashes) with the field's default; its
``metadata`` may add ``help``, ``flag`` (another option name), ``choices`` and ``metavar``. The type
comes from the annotation: ``int``, ``float``, ``str``, ``bool`` (a switch), ``X | None``, and
sequences, which the command line takes comma-separated (``--eval-levels 0,0.5``). This is the
way TRL's ``TrlParser`` turns its config dataclasses into arguments.

>>> add_options(parser, TrainConfig)                        # doctest: +SKIP
>>> config = TrainConfig(**options_from(parser.parse_args(), TrainConfig))
"""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any


def flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _parser_for(kind: Any, option: str) -> tuple[Callable[[str], Any], bool]:
    """(a function from the command line's text to the field's value, whether it is a sequence)."""
    args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        # ``str | Sequence[str]`` (a pool spec): the command line gives the plain string.
        scalar = [arg for arg in args if typing.get_origin(arg) is None]
        return _parser_for(scalar[0] if scalar else args[0], option)
    if typing.get_origin(kind) in (collections.abc.Sequence, list, tuple):
        item = typing.get_args(kind)[0]

        def parse_list(text: str) -> list[Any]:
            try:
                return [item(part.strip()) for part in text.split(",") if part.strip()]
            except ValueError:
                raise argparse.ArgumentTypeError(f"takes comma-separated {item.__name__} values, got {text!r}") from None

        return parse_list, True
    if kind in (int, float, str):
        return kind, False
    raise TypeError(f"cannot make a command-line option for {option} of type {kind!r}")


def add_options(parser: argparse.ArgumentParser, config: type, *, only: Iterable[str] | None = None,
                exclude: Iterable[str] = (), defaults: dict[str, Any] | None = None) -> None:  # fmt: skip
    """One option per field of the dataclass ``config`` (``only`` these, none of ``exclude``);
    ``defaults`` replaces a field's default for this command only."""
    hints = typing.get_type_hints(config)
    wanted, skipped, defaults = set(only) if only is not None else None, set(exclude), defaults or {}
    for field in dataclasses.fields(config):
        if (wanted is not None and field.name not in wanted) or field.name in skipped:
            continue
        option, meta = flag(field), field.metadata
        default = defaults.get(field.name, field.default)
        if default is dataclasses.MISSING:
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else None
        if hints[field.name] is bool:
            parser.add_argument(option, dest=field.name, action="store_true", default=default, help=meta.get("help"))
            continue
        parse, is_list = _parser_for(hints[field.name], option)
        shown = ",".join(map(str, default)) if is_list and default is not None else default
        help_text = meta.get("help", "")
        if default is not None and default != "":
            help_text = f"{help_text} (default: {shown})" if help_text else f"default: {shown}"
        metavar = meta.get("metavar") or (None if meta.get("choices") else option[2:].upper().replace("-", "_"))
        parser.add_argument(option, dest=field.name, type=parse, default=default, choices=meta.get("choices"),
                            metavar=metavar, help=help_text or None)  # fmt: skip


def options_from(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The values of ``config``'s fields that ``args`` holds (the options ``add_options`` made)."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(config) if hasattr(args, field.name)}
