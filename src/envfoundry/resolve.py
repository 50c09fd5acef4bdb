"""One way in: any source of an environment becomes an environment.

``make(source)`` is the package's entry point (``envfoundry.make``), and the curriculum's pool
resolves every item of a spec through ``resolve`` too, so the two cannot disagree. A source is:

===================  ================================================================  ==============
source               what it names                                                      where it runs
===================  ================================================================  ==============
a class              an ``Environment`` subclass                                        this process
``NAME``             a registered environment: the seed library or ``register()``       this process
``rg:NAME``          a reasoning-gym dataset (``adapters.reasoning_gym``)               this process
``NAME``             an environment admitted to the archive (``$ENVFOUNDRY_ARCHIVE``,   sandbox
                     or ``archive=DIR``)
``PATH``             a module file (``.py``, or any path with a slash)                  sandbox
===================  ================================================================  ==============

A path (``.py``, or anything with a slash) is a file; a name is tried as a registered name,
then ``rg:NAME``, then in the archive (``archive=DIR``, else the default one), then as a name this
process has made before from a file or an archive. ``sandbox=True`` sandboxes a registered environment as well; ``sandbox=False``
runs a file in this process (only for files you trust); archived code always runs sandboxed.

A file or an archived environment, once made, is known by its environment's name for the rest of
the process (with the same sandbox choice), so ``make(instance.env)`` gives back the environment
of an instance from any of these sources; a registered name wins over a file's environment of the
same name, and of two files defining one name the one made last is remembered.
"""

from __future__ import annotations

import inspect
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Environment, contract_errors
from envfoundry.core.registry import get_class, load_class_from_file, registered
from envfoundry.errors import InvalidInputError

ORIGINS = ("seed", "registered", "reasoning_gym", "archive", "file")
RG_PREFIX = "rg:"

# Files and archived environments made in this process, by their environment's name, with the
# sandbox choice they were made with (see the docstring).
_known: dict[str, tuple[Source, bool | None]] = {}
_known_lock = threading.Lock()


@dataclass(frozen=True)
class Source:
    """Where an environment comes from: ``origin`` (one of ``ORIGINS``) and what to open."""

    origin: str
    key: str  # the registered name, the reasoning-gym dataset, or the file path (archived: its source file)


def looks_like_path(text: str) -> bool:
    return text.endswith(".py") or os.sep in text or "/" in text


def locate(source: str | os.PathLike[str], *, archive: str | os.PathLike[str] | None = None) -> Source:
    """Where ``source`` comes from, without starting it; an unknown name is a ``ValueError`` with
    the closest registered names."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and looks_like_path(source)):
        path = Path(os.fspath(source))
        if not path.is_file():
            raise InvalidInputError(f"no environment file at '{path}'")
        return Source("file", str(path))
    if not isinstance(source, str):
        raise InvalidInputError(f"an environment source is a name, rg:NAME or a path, got {type(source).__name__}")
    if source in registered():
        from envfoundry.envs import seed_names

        return Source("seed" if source in seed_names() else "registered", source)
    if source.startswith(RG_PREFIX):
        return Source("reasoning_gym", source[len(RG_PREFIX) :])
    found = _archived(source, archive)
    if found is not None:
        return Source("archive", str(found))
    with _known_lock:
        known = _known.get(source)
    if known is not None:
        return known[0]
    if source.startswith("rg_"):
        raise InvalidInputError(f"unknown environment '{source}': reasoning-gym datasets are spelled "
                                f"'{RG_PREFIX}{source[3:]}'")  # fmt: skip
    get_class(source)  # raises the helpful unknown-name error
    raise AssertionError("unreachable")


def make(
    source: str | os.PathLike[str] | type[Environment],
    *,
    sandbox: bool | None = None,
    archive: str | os.PathLike[str] | None = None,
    **sandbox_options: Any,
) -> Any:
    """The environment ``source`` names (see the module docstring). ``sandbox_options``
    (``limits``, ``workers``, ``isolation``, ``static_check``) go to ``SandboxedEnvironment`` and
    only apply to sandboxed code."""
    if sandbox not in (None, True, False):
        raise InvalidInputError(f"sandbox must be True, False or None, got {sandbox!r}")
    if isinstance(source, type):
        errors = contract_errors(source)
        if errors:
            raise InvalidInputError("; ".join(errors))
        return _from_class(source, sandbox, sandbox_options)
    found = locate(source, archive=archive)
    with _known_lock:
        known = _known.get(source) if isinstance(source, str) else None
    if known is not None and known[0] == found and sandbox is None and not sandbox_options:
        sandbox = known[1]  # made again by name: as it was made the first time
    return open_source(found, sandbox=sandbox, **sandbox_options)


def open_source(found: Source, *, sandbox: bool | None = None, **sandbox_options: Any) -> Any:
    """Start the environment ``found`` (from ``locate``) describes."""
    if found.origin in ("seed", "registered"):
        return _from_class(get_class(found.key), sandbox, sandbox_options)
    if found.origin == "reasoning_gym":
        if sandbox or sandbox_options:
            raise InvalidInputError(f"'{RG_PREFIX}{found.key}' runs in this process: reasoning-gym is an installed "
                                    "package, not a file to sandbox (no sandbox options apply)")  # fmt: skip
        from envfoundry.adapters.reasoning_gym import make_environment

        return make_environment(found.key)
    if found.origin == "archive":
        if sandbox is False:
            raise InvalidInputError(f"'{found.key}' comes from the archive: archived environments always run sandboxed")
        env = _sandboxed(found.key, **sandbox_options)
    elif sandbox is False:
        _no_options(sandbox_options)
        env = load_class_from_file(found.key)()
    else:
        env = _sandboxed(found.key, **sandbox_options)
    _remember(env.name, found, sandbox)
    return env


def _from_class(cls: type[Environment], sandbox: bool | None, options: dict[str, Any]) -> Any:
    if not sandbox:
        _no_options(options)
        return cls()
    if cls.__module__.startswith("envfoundry."):
        return _sandboxed(module=cls.__module__, **options)
    source = inspect.getsourcefile(cls)
    if source is None or not Path(source).is_file():
        raise InvalidInputError(f"cannot sandbox {cls.__qualname__}: its source file is not available")
    return _sandboxed(source, **options)


def _sandboxed(*args: Any, **options: Any) -> Any:
    from envfoundry.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(*args, **options)


def _remember(name: str, found: Source, sandbox: bool | None) -> None:
    if name in registered():
        return  # a registered name always means the registered class
    if found.origin == "file":
        found = Source("file", str(Path(found.key).resolve()))
    with _known_lock:
        _known[name] = (found, sandbox)


def _archived(name: str, root: str | os.PathLike[str] | None) -> Path | None:
    """The source file of an environment admitted to the archive at ``root`` (default: the default one), if any."""
    from envfoundry.archive import Archive, archive_exists, default_archive_dir

    directory = Path(root).expanduser() if root is not None else default_archive_dir()
    if not archive_exists(directory):
        return None
    with Archive(directory) as opened:
        return opened.path_for(name)


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise InvalidInputError(f"sandbox options {sorted(options)} only apply with sandbox=True")
