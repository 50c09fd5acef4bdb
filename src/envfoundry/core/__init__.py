"""The contract: environments, instances, verdicts, parameter spaces, answers, the registry.

``core`` is the bottom layer: it imports nothing else from the package (``envfoundry.resolve``
turns names, files and archived environments into running ones). ``core.files`` writes files
whole or not at all, for every layer above.
"""

from envfoundry.core.answer import (
    answer_instruction,
    extract_answer,
    parse_int,
    parse_int_list,
    parse_moves,
    shows_answer,
    split_tokens,
    wrap_answer,
)
from envfoundry.core.environment import Environment, Instance, Score, Verdict, contract_errors
from envfoundry.core.params import ChoiceParam, FloatParam, IntParam, Param, ParamSpace
from envfoundry.core.registry import get_class, load_class_from_file, register, registered

__all__ = [
    "ChoiceParam",
    "Environment",
    "FloatParam",
    "Instance",
    "IntParam",
    "Param",
    "ParamSpace",
    "Score",
    "Verdict",
    "answer_instruction",
    "contract_errors",
    "extract_answer",
    "get_class",
    "load_class_from_file",
    "parse_int",
    "parse_int_list",
    "parse_moves",
    "register",
    "registered",
    "shows_answer",
    "split_tokens",
    "wrap_answer",
]
