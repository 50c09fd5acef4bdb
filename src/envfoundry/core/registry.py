"""The registry: ``register`` an environment class, look one up by name, load one from a module file.

Turning any source (a name, ``rg:NAME``, an archived name, a file) into a running environment is
``envfoundry.resolve.make``'s job; this module knows only classes, and imports nothing above ``core``.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path

from envfoundry.core.environment import Environment, contract_errors
from envfoundry.errors import ContractError, EnvfoundryError, InvalidInputError

_REGISTRY: dict[str, type[Environment]] = {}
# The seed library is imported on first use of the registry, not when envfoundry is imported:
# importing the package stays cheap, and a sandbox worker can leave the seeds out entirely. The
# package installs the loader (``envfoundry/__init__.py``): core does not import the layer above it.
_seeds = "unloaded"  # "unloaded" | "loading" | "loaded" | "off"
_seed_loader: Callable[[], object] | None = None


def set_seed_loader(loader: Callable[[], object]) -> None:
    """What imports the seed library (and so registers it) on the registry's first use."""
    global _seed_loader
    _seed_loader = loader


def _ensure_seeds() -> None:
    global _seeds
    if _seeds == "unloaded" and _seed_loader is not None:
        _seeds = "loading"
        try:
            _seed_loader()
        finally:
            _seeds = "loaded"


def seed_library_enabled() -> bool:
    return _seeds != "off"


def use_seed_library(enabled: bool) -> None:
    """``False`` keeps the seed library out of this process's registry (sandbox workers run one
    environment and must not collide with a seed of the same name). Call it before any lookup."""
    global _seeds
    if enabled:
        if _seeds == "off":
            _seeds = "unloaded"
    elif _seeds == "unloaded":
        _seeds = "off"
    elif _seeds != "off":
        raise SeedLibraryLoaded("the seed library is already loaded in this process")


class SeedLibraryLoaded(EnvfoundryError, RuntimeError):
    """``use_seed_library(False)`` came after the seed library was loaded."""


def register(cls: type[Environment]) -> type[Environment]:
    """Register an environment class under its ``name`` (usable as a decorator). A namespaced
    name (``rg:chain_sum``) belongs to an adapter and cannot be registered."""
    _ensure_seeds()
    errors = contract_errors(cls)
    if errors:
        raise ContractError("; ".join(errors))
    if ":" in cls.name:
        raise ContractError(f"'{cls.name}' is namespaced: names with ':' belong to adapters (rg:NAME); register "
                            "a plain lowercase identifier")  # fmt: skip
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        if _source_file(existing) is not None and _source_file(existing) == _source_file(cls):
            return cls  # the same file loaded a second time (by path and by import): keep the first
        raise InvalidInputError(f"an environment named '{cls.name}' is already registered ({existing.__qualname__})")
    _REGISTRY[cls.name] = cls
    return cls


def _source_file(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return os.path.realpath(path) if path else None


def registered() -> list[str]:
    """Names of all registered environments, sorted."""
    _ensure_seeds()
    return sorted(_REGISTRY)


def get_class(name: str) -> type[Environment]:
    """The registered class for ``name``; an unknown name is a clear ``ValueError``."""
    _ensure_seeds()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise InvalidInputError(
            f"unknown environment '{name}'.{hint} Run `envfoundry list` for the registered ones, "
            "or pass rg:NAME or a path to a .py file."
        ) from None


def load_class_from_file(path: str | os.PathLike[str]) -> type[Environment]:
    """Import a module file and return its one ``Environment`` subclass.

    The code runs in this process: only load files you trust (``make`` sandboxes the others).
    """
    path = Path(path)
    return load_class_from_source(read_source(path), str(path))


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of an environment file; an unreadable file is a clear ``ValueError``."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read environment file '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"environment file '{path}' is not UTF-8 text") from None


def load_class_from_source(source: str, filename: str) -> type[Environment]:
    """Execute environment source as a module and return its one ``Environment`` subclass."""
    # A content-derived module name: two different files never shadow each other.
    module_name = f"envfoundry_user_{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        module = types.ModuleType(module_name)
        module.__file__ = filename
        sys.modules[module_name] = module
        try:
            exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the point of this function
        except SyntaxError as exc:
            del sys.modules[module_name]
            raise InvalidInputError(f"'{filename}' has a syntax error at line {exc.lineno}: {exc.msg}") from None
        except Exception as exc:  # noqa: BLE001 - report any import failure in one sentence
            del sys.modules[module_name]
            raise InvalidInputError(f"importing '{filename}' raised {type(exc).__name__}: {exc}") from None
    return environment_class_in(module, filename)


def environment_class_in(module: types.ModuleType, label: str) -> type[Environment]:
    """The one ``Environment`` subclass a module defines, checked against the contract."""
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Environment)
        and obj is not Environment
        and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise InvalidInputError(f"'{label}' must define exactly one subclass of envfoundry.Environment, found {len(classes)}")
    errors = contract_errors(classes[0])
    if errors:
        raise InvalidInputError(f"'{label}': " + "; ".join(errors))
    return classes[0]
