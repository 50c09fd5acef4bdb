"""reasoning-gym datasets as envfoundry environments.

Every reasoning-gym dataset with a curriculum becomes an ``Environment`` named ``rg:<dataset>``,
the same spelling ``envfoundry.make`` and the pool take.
Its parameters are indices into the curriculum's attribute levels (one ``IntParam`` per attribute,
harder up), so ``level`` 0 puts every attribute at its first level and ``level`` 1 at its last. A
level is turned into the dataset's config the way reasoning-gym's curriculum does in its
``upper_bound`` range mode: a scalar attribute sets its field to the level's value; a range
attribute sets its min and max fields to the level's value (to that level and the next one when
the attribute must be an interval), so a level means that level rather than everything up to it.

``generate`` draws reasoning-gym's dataset seed from the rng the contract hands it, makes item 0
of a one-item dataset and keeps the entry (question, answer, metadata) as plain JSON in the
state; ``verify`` scores with the dataset's own ``score_answer``. Dataset objects are cached by
config and re-seeded per item (vetting checks that this gives the same items as building a fresh
dataset). Nothing here imports reasoning-gym until it is needed; without it every entry point
raises one ``ReasoningGymMissingError`` (an ``ImportError``) that says ``pip install reasoning-gym``.

``envfoundry.checks.reasoning_gym`` runs envfoundry's check battery on every adaptable dataset (plus the
checks the adapter itself needs); ``DEFAULT_DATASETS`` lists the vetted ones picked as the default set.
"""

from __future__ import annotations

import collections
import copy
import difflib
import functools
import json
import random
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from envfoundry.core.answer import answer_instruction
from envfoundry.core.environment import Environment, Score
from envfoundry.core.params import IntParam
from envfoundry.errors import EnvfoundryError

PREFIX = "rg:"
FAMILY = "reasoning_gym"
INSTALL_HINT = "pip install reasoning-gym"
# The answer shape differs from dataset to dataset (the question says which), so the example is generic.
ANSWER_EXAMPLE = "your answer"
# reasoning-gym adds the item index to the dataset seed; a 31-bit seed stays valid for every RNG it uses.
_SEED_BOUND = 2**31
# Dataset objects kept per process (some hold word lists, graphs or task files).
_CACHE_SIZE = 32


class ReasoningGymMissingError(EnvfoundryError, ImportError):
    """reasoning-gym is not installed."""


class ReasoningGymError(EnvfoundryError, ValueError):
    """A dataset name, level or item the adapter cannot use."""


# Vetted with `python benchmarks/vet_reasoning_gym.py --jobs 2` against reasoning-gym 0.1.25
# (16 seeds x 5 levels, plus a fresh-process comparison): 102 datasets with a curriculum vetted,
# 37 pass. Failures by first failing check:
#   14 wrong_answers    lenient scorers: a shotgun, 'yes', 'NaN' or a perturbed answer gets 1.0
#   14 difficulty_grows the level does not make instances grow (flat or falling between levels)
#    9 sample_time      over 50 ms per instance at level 1 (sudoku, futoshiki, sokoban, bf, ...)
#    7 no_leak          the question shows the answer verbatim (worked examples, copied lists)
#    5 timeout          generation hangs at level 1 (arc_1d, jugs, number_sequence, puzzle24) or
#                       takes seconds (zebra_puzzles)
#    5 no_reference     answer is None: the scorer checks solutions (graph_color, rush_hour, ...)
#    5 rg_error         reasoning-gym rejects its own curriculum's config at level 0 or 1
#                       (caesar_cipher, countdown, knight_swap, letter_jumble, spell_backward)
#    2 json_round_trip  arc_agi, rearc: the scorer needs tuples that JSON turns into lists
#    4 others           codeio (items depend on the seed at construction), modulo_grid (invalid
#                       config mid-curriculum), game_of_life_halting (few distinct items),
#                       isomorphic_strings (differs across processes)
# Sample-time verdicts near the budget vary between runs (binary_matrix, circuit_logic pass at
# 36-40 ms), so those are left out of the default set, as are near-duplicates of ones in it.
DEFAULT_DATASETS: tuple[str, ...] = (
    # arithmetic
    "basic_arithmetic",
    "bitwise_arithmetic",
    "chain_sum",
    "decimal_arithmetic",
    "dice",
    "gcd",
    "leg_counting",
    "products",
    # algebra, geometry
    "simple_equations",
    "simple_geometry",
    # algorithmic: numbers, strings, lists, grids
    "count_primes",
    "cryptarithm",
    "group_anagrams",
    "letter_counting",
    "number_filtering",
    "number_sorting",
    "palindrome_partitioning",
    "rotten_oranges",
    "sentence_reordering",
    "spiral_matrix",
    "string_splitting",
    "string_synthesis",
    "word_sequence_reversal",
    # graphs
    "course_schedule",
    "family_relationships",
    "largest_island",
    "path_star",
    # games
    "mahjong_puzzle",
    "survo",
    "tsumego",
    # cognition
    "rectangle_count",
)


# ----- reasoning-gym access ---------------------------------------------------------------------
def _factory() -> Any:
    """reasoning-gym's factory module (importing reasoning_gym registers every dataset)."""
    try:
        from reasoning_gym import factory
    except ImportError:
        raise ReasoningGymMissingError(
            f"the reasoning-gym adapter needs the reasoning-gym package: {INSTALL_HINT}"
        ) from None
    return factory


@functools.cache
def reasoning_gym_version() -> str:
    """The installed reasoning-gym version (its distribution metadata; the module's own string lags)."""
    _factory()
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reasoning-gym")
    except PackageNotFoundError:  # pragma: no cover - an unpackaged checkout
        import reasoning_gym

        return str(getattr(reasoning_gym, "__version__", "unknown"))


def available() -> list[str]:
    """Names of the reasoning-gym datasets that have a curriculum (the adaptable ones), sorted."""
    factory = _factory()
    return sorted(name for name in factory.DATASETS if name in factory.CURRICULA)


def env_name(dataset: str) -> str:
    """The environment name for a dataset: ``rg:`` plus the name as a lowercase identifier."""
    slug = re.sub(r"[^a-z0-9]+", "_", str(dataset).lower()).strip("_")
    return PREFIX + slug[:64]


def _param_name(attribute: str) -> str:
    name = re.sub(r"\W+", "_", attribute).strip("_") or "attribute"
    return f"a_{name}" if name[0].isdigit() else name


def canonical_dataset(dataset: str) -> str:
    """The reasoning-gym dataset ``dataset`` names (``rg:<name>`` is accepted too); an unknown
    name, or a dataset without a curriculum, is a one-sentence ``ReasoningGymError``."""
    factory = _factory()
    if not isinstance(dataset, str):
        raise ReasoningGymError(f"a reasoning-gym dataset name must be a string, got {type(dataset).__name__}")
    names = available()
    if dataset in factory.CURRICULA:
        return dataset
    if dataset.startswith(PREFIX) and dataset[len(PREFIX) :] in factory.CURRICULA:
        return dataset[len(PREFIX) :]
    if dataset in factory.DATASETS:
        raise ReasoningGymError(
            f"reasoning-gym dataset '{dataset}' has no curriculum, so it has no difficulty levels to adapt"
        )
    close = difflib.get_close_matches(dataset.removeprefix(PREFIX), names, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f" (available() lists {len(names)})"
    raise ReasoningGymError(f"unknown reasoning-gym dataset '{dataset}'{hint}")


# ----- curriculum levels -> dataset config ------------------------------------------------------
@dataclass(frozen=True)
class Attribute:
    """One curriculum attribute: its levels (easiest first) and the config field(s) it sets."""

    name: str
    param: str
    levels: tuple[Any, ...]
    # (field,) for a scalar attribute, (min field, max field) for a range attribute.
    fields: tuple[str, ...]
    ensure_interval: bool = False
    description: str = ""

    @classmethod
    def from_definition(cls, definition: Any) -> Attribute:
        if getattr(definition, "lower_field_name", None) and getattr(definition, "upper_field_name", None):
            fields = (definition.lower_field_name, definition.upper_field_name)
        elif getattr(definition, "field_name", None):
            fields = (definition.field_name,)
        else:
            raise ReasoningGymError(
                f"curriculum attribute '{definition.name}' is neither a scalar nor a range attribute"
            )
        if not definition.levels:
            raise ReasoningGymError(f"curriculum attribute '{definition.name}' has no levels")
        return cls(
            name=definition.name,
            param=_param_name(definition.name),
            levels=tuple(definition.levels),
            fields=fields,
            ensure_interval=bool(getattr(definition, "ensure_interval", False)),
            description=definition.description or "",
        )

    def config_fields(self, index: int) -> dict[str, Any]:
        """The config field(s) this attribute sets at level ``index``."""
        value = self.levels[index]
        if len(self.fields) == 1:
            return {self.fields[0]: value}
        if isinstance(value, (list, tuple)):  # a level that is itself a range
            low, high = min(value), max(value)
        else:
            last = len(self.levels) - 1
            if self.ensure_interval and last > 0:  # from this level to the next (the last two at the top)
                high_index = min(index + 1, last)
                low_index = high_index - 1
            else:
                low_index = high_index = index
            low, high = sorted((self.levels[low_index], self.levels[high_index]))
        return {self.fields[0]: low, self.fields[1]: high}


def config_fields(attributes: Sequence[Attribute], indices: Mapping[str, int]) -> dict[str, Any]:
    """The dataset config fields for one index per attribute (keyed by parameter name)."""
    out: dict[str, Any] = {}
    for attribute in attributes:
        out.update(attribute.config_fields(indices[attribute.param]))
    return out


# ----- the environment --------------------------------------------------------------------------
_CACHE: collections.OrderedDict[tuple[str, tuple], Any] = collections.OrderedDict()
# Re-seeding a cached dataset and taking its item must not interleave across threads.
_LOCK = threading.RLock()


class ReasoningGymEnvironment(Environment):
    """Base of the adapted reasoning-gym environments (``environment_class`` makes one per dataset)."""

    asymmetry = "algorithmic"
    family = FAMILY
    version = 1
    dataset: ClassVar[str] = ""
    attributes: ClassVar[tuple[Attribute, ...]] = ()

    # -- reasoning-gym objects --
    def _key(self, indices: Mapping[str, Any]) -> tuple[int, ...]:
        """One validated level index per attribute (a state read back from JSON is checked too)."""
        key = []
        for attribute in self.attributes:
            index = indices[attribute.param]
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(attribute.levels):
                last = len(attribute.levels) - 1
                raise ReasoningGymError(f"'{attribute.param}' must be a level index in [0, {last}]")
            key.append(index)
        return tuple(key)

    def config(self, indices: Mapping[str, Any], seed: int = 0) -> Any:
        """reasoning-gym's config object for these attribute indices (a one-item dataset)."""
        _, config_cls = _factory().DATASETS[self.dataset]
        key = dict(zip((a.param for a in self.attributes), self._key(indices), strict=True))
        # A copy: list-valued levels must not be shared with (and mutated through) a config.
        return config_cls(**copy.deepcopy(config_fields(self.attributes, key)), seed=seed, size=1)

    def fresh_dataset(self, indices: Mapping[str, Any], seed: int = 0) -> Any:
        """A new reasoning-gym dataset object for these attribute indices."""
        dataset_cls, _ = _factory().DATASETS[self.dataset]
        return dataset_cls(config=self.config(indices, seed))

    def rg_dataset(self, indices: Mapping[str, Any]) -> Any:
        """The cached dataset object for these attribute indices (built on first use)."""
        key = (self.dataset, self._key(indices))
        with _LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                _CACHE.move_to_end(key)
                return hit
        built = self.fresh_dataset(indices)
        with _LOCK:
            _CACHE[key] = built
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        return built

    def rg_entry(self, rg_seed: int, indices: Mapping[str, Any]) -> dict[str, Any]:
        """reasoning-gym's item for dataset seed ``rg_seed`` as it makes it (not yet JSON)."""
        dataset = self.rg_dataset(indices)
        with _LOCK:
            dataset.seed = rg_seed
            if hasattr(dataset.config, "seed"):
                dataset.config.seed = rg_seed
            return dataset[0]

    # -- the contract --
    def generate(self, rng: random.Random, **params: Any) -> dict[str, Any]:
        rg_seed = rng.randrange(_SEED_BOUND)
        entry = self.rg_entry(rg_seed, params)
        if not isinstance(entry.get("question"), str):
            raise ReasoningGymError(f"reasoning-gym's {self.dataset} gave no question string")
        if not isinstance(entry.get("answer"), str):
            raise ReasoningGymError(
                f"reasoning-gym's {self.dataset} gave no answer string (got {type(entry.get('answer')).__name__}), "
                "so there is no reference"
            )
        try:
            entry = json.loads(json.dumps(entry))
        except (TypeError, ValueError) as exc:
            raise ReasoningGymError(f"reasoning-gym's {self.dataset} entry is not plain JSON: {exc}") from None
        return {"dataset": self.dataset, "levels": dict(params), "rg_seed": rg_seed, "entry": entry}

    def prompt(self, state: dict[str, Any]) -> str:
        return f"{state['entry']['question'].rstrip()}\n\n{answer_instruction(ANSWER_EXAMPLE)}"

    def reference(self, state: dict[str, Any]) -> str:
        return state["entry"]["answer"]

    def verify(self, state: dict[str, Any], answer: str) -> Score:
        dataset = self.rg_dataset(state["levels"])
        reward = float(dataset.score_answer(answer, dict(state["entry"])))
        return Score(reward, f"reasoning-gym's score_answer gave {reward:g}")

    def complexity(self, state: dict[str, Any]) -> float:
        # Generic across datasets: the text the model reads plus the text it must write.
        return float(len(state["entry"]["question"]) + len(state["entry"]["answer"]))

    def metadata(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"source": "reasoning_gym", "reasoning_gym_version": reasoning_gym_version()}


def _class_name(dataset: str) -> str:
    return "ReasoningGym" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", dataset) if part)


def _short(value: Any, limit: int = 100) -> str:
    text = repr(list(value))
    return text if len(text) <= limit else text[: limit - 4] + " ...]"


@functools.cache
def _build_class(dataset: str) -> type[ReasoningGymEnvironment]:
    factory = _factory()
    dataset_cls, _ = factory.DATASETS[dataset]
    attributes = tuple(Attribute.from_definition(d) for d in factory.create_curriculum(dataset).attributes.values())
    if not attributes:
        raise ReasoningGymError(f"reasoning-gym dataset '{dataset}' has a curriculum without attributes")
    if len({a.param for a in attributes}) != len(attributes):
        raise ReasoningGymError(f"reasoning-gym dataset '{dataset}' has curriculum attributes with clashing names")
    category = dataset_cls.__module__.split(".")[1] if dataset_cls.__module__.count(".") >= 2 else "other"
    summary = (dataset_cls.__doc__ or "").strip().splitlines()[0:1] or ["no description"]
    doc = (
        f"reasoning-gym's '{dataset}' dataset ({category}): {summary[0].rstrip('.')}.\n\n"
        f"Adapted from reasoning-gym {reasoning_gym_version()}. Each parameter is an index into one "
        f"curriculum attribute's levels ({', '.join(a.name for a in attributes)}): level 0 puts every "
        "attribute at its first level, level 1 at its last. The reference is the dataset's answer and "
        "scoring is the dataset's own score_answer: its partial credit is kept as the reward, and only "
        "full marks count as correct."
    )
    space = {
        a.param: IntParam(
            0,
            len(a.levels) - 1,
            description=f"index into the '{a.name}' levels {_short(a.levels)} ({' / '.join(a.fields)})"
            + (f": {a.description}" if a.description else ""),
        )
        for a in attributes
    }
    namespace = {
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": _class_name(dataset),
        "name": env_name(dataset),
        # Named rg_<dataset> until the one rg: spelling: the same seeds still draw the same items.
        "seed_name": "rg_" + env_name(dataset)[len(PREFIX) :],
        "space": space,
        "dataset": dataset,
        "attributes": attributes,
    }
    return type(_class_name(dataset), (ReasoningGymEnvironment,), namespace)


def environment_class(dataset: str) -> type[ReasoningGymEnvironment]:
    """The environment class for a reasoning-gym dataset (one class per dataset, cached)."""
    return _build_class(canonical_dataset(dataset))


def make_environment(dataset: str) -> ReasoningGymEnvironment:
    """An environment for a reasoning-gym dataset (``chain_sum`` or ``rg:chain_sum``)."""
    return environment_class(dataset)()
