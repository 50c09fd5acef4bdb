"""The registry: ``register`` an environment class, ``make`` one by name or from a module file."""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from envfoundry.core.environment import Environment, contract_errors

_REGISTRY: dict[str, type[Environment]] = {}


def register(cls: type[Environment]) -> type[Environment]:
    """Register an environment class under its ``name`` (usable as a decorator)."""
    errors = contract_errors(cls)
    if errors:
        raise TypeError("; ".join(errors))
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"an environment named '{cls.name}' is already registered ({existing.__qualname__})")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> list[str]:
    """Names of all registered environments, sorted."""
    return sorted(_REGISTRY)


def get_class(name: str) -> type[Environment]:
    """The registered class for ``name``; an unknown name is a clear ``ValueError``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"unknown environment '{name}'.{hint} Run `envfoundry list` for the registered ones, "
            "or pass a path to a .py file."
        ) from None


def _looks_like_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".py") or os.sep in name_or_path or "/" in name_or_path


def load_class_from_file(path: str | os.PathLike[str]) -> type[Environment]:
    """Import a module file and return its one ``Environment`` subclass.

    The code runs in this process: only load files you trust.
    """
    path = Path(path)
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read environment file '{path}': {exc.strerror or exc}") from None
    # A content-derived module name: two different files never shadow each other.
    module_name = f"envfoundry_user_{hashlib.sha256(source).hexdigest()[:16]}"
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot import '{path}' as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            del sys.modules[module_name]
            raise ValueError(f"'{path}' has a syntax error at line {exc.lineno}: {exc.msg}") from None
        except Exception as exc:  # noqa: BLE001 - report any import failure in one sentence
            del sys.modules[module_name]
            raise ValueError(f"importing '{path}' raised {type(exc).__name__}: {exc}") from None
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Environment)
        and obj is not Environment
        and obj.__module__ == module_name
    ]
    if len(classes) != 1:
        raise ValueError(f"'{path}' must define exactly one subclass of envfoundry.Environment, found {len(classes)}")
    errors = contract_errors(classes[0])
    if errors:
        raise ValueError(f"'{path}': " + "; ".join(errors))
    return classes[0]


def make(name_or_path: str | os.PathLike[str] | type[Environment]) -> Environment:
    """An environment by registered name, by path to a module file, or from a class."""
    if isinstance(name_or_path, type):
        errors = contract_errors(name_or_path)
        if errors:
            raise ValueError("; ".join(errors))
        return name_or_path()
    if isinstance(name_or_path, os.PathLike):
        return load_class_from_file(name_or_path)()
    if not isinstance(name_or_path, str):
        raise ValueError(f"make() takes an environment name or a path, got {type(name_or_path).__name__}")
    if name_or_path in _REGISTRY:
        return _REGISTRY[name_or_path]()
    if _looks_like_path(name_or_path):
        if not Path(name_or_path).is_file():
            raise ValueError(f"no environment file at '{name_or_path}'")
        return load_class_from_file(name_or_path)()
    get_class(name_or_path)  # raises the helpful unknown-name error
    raise AssertionError("unreachable")
