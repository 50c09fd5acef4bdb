"""Evaluation suites: which environments ``envfoundry eval`` measures, named by one spec.

A suite is a comma-separated list of items. Each item is a named suite below or anything a
training pool takes (``curriculum.build_pool``: ``seeds``, ``archive[:DIR]``, ``reasoning-gym``,
``rg:NAME``, a registered or archived name, a file). Every suite is evaluated on held-out seeds
(``evaluate.run.held_out_seeds``), so even an environment that was trained on is measured on
instances it never saw; the suites below add environments that were never trained on at all:

=====================  ===========================================================================
``seeds``              the 14 seed environments. Never trained on by a run whose pool left them
                       out (``make train`` trains on 3 of them, so 11 are new to it).
``rg``                 ``RG_SUITE``: 10 reasoning-gym datasets that pass our check battery but are
                       not in ``DEFAULT_DATASETS``, so no pool trains on them unless it names them
                       (``--envs reasoning-gym`` trains on the 73 default ones, never these). Note:
                       as a *training* pool item ``rg`` means ``reasoning-gym``; here it means this
                       held-out list (spell ``reasoning-gym`` to evaluate the default 73).
``converted[:DIR]``    the converted programming problems admitted to the archive at ``DIR`` (the
                       default archive without it): environments whose lineage is ``convert``.
                       Never trained on by a pool without ``archive``.
=====================  ===========================================================================
"""

from __future__ import annotations

from pathlib import Path

from envfoundry.curriculum import Pool, build_pool
from envfoundry.curriculum.pool import parse_spec
from envfoundry.errors import InvalidInputError

# Vetted reasoning-gym datasets outside DEFAULT_DATASETS (left out of the training default because
# their level 1 samples near the 50 ms budget or is capped, or as a near-twin of chain_sum), one or
# two per family, with prompts under 2,000 characters at every level so a small model's context
# holds them. Fixed: a suite that changed would make evaluations incomparable.
RG_SUITE: tuple[str, ...] = (
    "decimal_chain_sum",  # arithmetic (a near-twin of the trained chain_sum: transfer)
    "polynomial_equations",  # algebra
    "syllogism",  # logic
    "zebra_puzzles",  # logic
    "jugs",  # planning
    "maze",  # grids: search
    "game_of_life",  # grids: simulation
    "sudoku",  # puzzles (9x9; the default set has mini_sudoku)
    "futoshiki",  # puzzles
    "bf",  # code: the output of a Brainf*ck program
)

SUITES: dict[str, str] = {
    "seeds": "the 14 seed environments",
    "rg": f"{len(RG_SUITE)} vetted reasoning-gym datasets no default pool trains on",
    "converted[:DIR]": "the converted programming problems in the archive (default archive without DIR)",
}


def suite_items(suite: str) -> list[str]:
    """The items of a suite spec, blanks dropped; an empty spec is an ``InvalidInputError``."""
    try:
        return parse_spec(suite)
    except InvalidInputError:
        raise InvalidInputError(f"the suite is empty: name one of {', '.join(SUITES)} or a pool spec "
                                "(an environment name, rg:NAME, archive[:DIR], a file)") from None  # fmt: skip


def resolve_suite(suite: str) -> Pool:
    """The environments a suite spec names, as a pool (a context manager: closing it stops any
    sandboxed environment). Unknown items are an ``InvalidInputError`` naming them."""
    pool = Pool()
    try:
        for item in suite_items(suite):
            if item == "rg":
                part = build_pool([f"rg:{dataset}" for dataset in RG_SUITE])
            elif item == "converted" or item.startswith("converted:"):
                part = _converted(item.partition(":")[2] or None)
            else:
                part = build_pool(item)
            for env in part.envs.values():
                pool.add(env)
    except BaseException:
        pool.close()
        raise
    return pool


def _converted(root: str | None) -> Pool:
    """The archive's admitted environments that the converter made (lineage mode ``convert``)."""
    from envfoundry.archive import Archive, archive_exists, default_archive_dir

    directory = Path(root).expanduser() if root else default_archive_dir()
    if not archive_exists(directory):
        raise InvalidInputError(f"no archive at '{directory}' (run `envfoundry convert ... --archive DIR` first)")
    with Archive(directory) as archive:
        converted = {env.name for env in archive.environments() if (env.lineage or {}).get("mode") == "convert"}
    if not converted:
        raise InvalidInputError(f"the archive at '{directory}' holds no converted problems "
                                "(run `envfoundry convert humaneval --archive DIR`)")  # fmt: skip
    everything = build_pool(f"archive:{directory}")  # lazy: nothing started
    pool = Pool()
    for name, env in everything.envs.items():
        if name in converted:
            pool.add(env)
        else:
            env.release()
    return pool
