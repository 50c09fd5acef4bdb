"""The registry: ``register`` an environment class, ``make`` one by name or from a module file."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any

from envfoundry.core.environment import Environment, contract_errors

_REGISTRY: dict[str, type[Environment]] = {}
# The seed library is imported on first use of the registry, not when envfoundry is imported:
# importing the package stays cheap, and a sandbox worker can leave the seeds out entirely.
_seeds = "unloaded"  # "unloaded" | "loading" | "loaded" | "off"


def _ensure_seeds() -> None:
    global _seeds
    if _seeds == "unloaded":
        _seeds = "loading"
        try:
            importlib.import_module("envfoundry.envs")
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
        raise RuntimeError("the seed library is already loaded in this process")


def register(cls: type[Environment]) -> type[Environment]:
    """Register an environment class under its ``name`` (usable as a decorator)."""
    _ensure_seeds()
    errors = contract_errors(cls)
    if errors:
        raise TypeError("; ".join(errors))
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        if _source_file(existing) is not None and _source_file(existing) == _source_file(cls):
            return cls  # the same file loaded a second time (by path and by import): keep the first
        raise ValueError(f"an environment named '{cls.name}' is already registered ({existing.__qualname__})")
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
        raise ValueError(
            f"unknown environment '{name}'.{hint} Run `envfoundry list` for the registered ones, "
            "or pass a path to a .py file."
        ) from None


def _looks_like_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".py") or os.sep in name_or_path or "/" in name_or_path


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
        raise ValueError(f"cannot read environment file '{path}': {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"environment file '{path}' is not UTF-8 text") from None


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
            raise ValueError(f"'{filename}' has a syntax error at line {exc.lineno}: {exc.msg}") from None
        except Exception as exc:  # noqa: BLE001 - report any import failure in one sentence
            del sys.modules[module_name]
            raise ValueError(f"importing '{filename}' raised {type(exc).__name__}: {exc}") from None
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
        raise ValueError(f"'{label}' must define exactly one subclass of envfoundry.Environment, found {len(classes)}")
    errors = contract_errors(classes[0])
    if errors:
        raise ValueError(f"'{label}': " + "; ".join(errors))
    return classes[0]


def make(
    name_or_path: str | os.PathLike[str] | type[Environment],
    *,
    sandbox: bool | None = None,
    **sandbox_options: Any,
) -> Any:
    """An environment by registered name, by name in the archive, by path to a module file, from a
    class, or a reasoning-gym dataset as ``rg:NAME`` (``envfoundry.adapters.reasoning_gym``).

    ``sandbox`` decides where the environment's code runs. The default sandboxes every
    environment that is not part of a trusted import — a file path — and runs registered names
    and classes (code this process already imported) in-process. ``sandbox=True`` also sandboxes
    a registered environment; ``sandbox=False`` runs a file in this process: only for files you
    trust. A sandboxed environment has the same ``sample`` / ``score`` API; ``sandbox_options``
    (``limits``, ``workers``, ``isolation``, ``static_check``) go to ``SandboxedEnvironment``.
    """
    if sandbox not in (None, True, False):
        raise ValueError(f"sandbox must be True, False or None, got {sandbox!r}")
    if isinstance(name_or_path, type):
        errors = contract_errors(name_or_path)
        if errors:
            raise ValueError("; ".join(errors))
        cls = name_or_path
    elif isinstance(name_or_path, (str, os.PathLike)):
        text = os.fspath(name_or_path)
        _ensure_seeds()
        if isinstance(name_or_path, str) and text in _REGISTRY:
            cls = _REGISTRY[text]
        elif isinstance(name_or_path, str) and text.startswith("rg:"):
            if sandbox:
                raise ValueError(f"'{text}' runs in this process: reasoning-gym is an installed package, not a file "
                                 "to sandbox")  # fmt: skip
            _no_options(sandbox_options)
            from envfoundry.adapters.reasoning_gym import make_environment

            return make_environment(text[3:])
        elif isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
            if not Path(text).is_file():
                raise ValueError(f"no environment file at '{text}'")
            if sandbox is False:
                _no_options(sandbox_options)
                return load_class_from_file(text)()
            from envfoundry.sandbox import SandboxedEnvironment

            return SandboxedEnvironment(text, **sandbox_options)
        else:
            archived = _archived_path(text)
            if archived is None:
                get_class(text)  # raises the helpful unknown-name error
                raise AssertionError("unreachable")
            if sandbox is False:
                raise ValueError(f"'{text}' comes from the archive: archived environments always run sandboxed")
            from envfoundry.sandbox import SandboxedEnvironment

            return SandboxedEnvironment(archived, **sandbox_options)
    else:
        raise ValueError(f"make() takes an environment name or a path, got {type(name_or_path).__name__}")
    if not sandbox:
        _no_options(sandbox_options)
        return cls()
    from envfoundry.sandbox import SandboxedEnvironment

    if cls.__module__.startswith("envfoundry."):
        return SandboxedEnvironment(module=cls.__module__, **sandbox_options)
    source = inspect.getsourcefile(cls)
    if source is None or not Path(source).is_file():
        raise ValueError(f"cannot sandbox {cls.__qualname__}: its source file is not available")
    return SandboxedEnvironment(source, **sandbox_options)


def _archived_path(name: str) -> Path | None:
    """The source of an environment admitted to the default archive (``ENVFOUNDRY_ARCHIVE``), if any."""
    from envfoundry.archive import Archive, archive_exists, default_archive_dir

    root = default_archive_dir()
    if not archive_exists(root):
        return None
    with Archive(root) as archive:
        return archive.path_for(name)


def _no_options(options: dict[str, Any]) -> None:
    if options:
        raise ValueError(f"sandbox options {sorted(options)} only apply with sandbox=True")
