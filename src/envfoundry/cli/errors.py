"""The command line's one error type, and the ways a command turns expected failures into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from envfoundry.errors import EnvfoundryError


class UsageError(EnvfoundryError):
    """Bad input from the user: reported in one line, exit status 2."""


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (its first), or its type's name when it has none."""
    message = str(exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


@contextlib.contextmanager
def as_usage_errors(*errors: type[BaseException], sandbox: str | None = None) -> Iterator[None]:
    """Inside the block, an exception of one of ``errors`` (bad settings, a model or package that
    cannot load) becomes a ``UsageError`` with its first line; with ``sandbox``, so does a sandbox
    that cannot run, after that text."""
    refused: tuple[type[BaseException], ...] = ()
    if sandbox is not None:
        from envfoundry.sandbox import SandboxError, SandboxUnavailable

        refused = (SandboxError, SandboxUnavailable)
    try:
        yield
    except errors as exc:  # first: an environment file that fails to load is a ValueError and a SandboxError
        raise UsageError(first_line(exc)) from None
    except refused as exc:
        raise UsageError(f"{sandbox}: {exc}") from None
