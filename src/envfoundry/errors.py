"""The one root of every error envfoundry raises on purpose.

``except EnvfoundryError`` catches them all; each also keeps the built-in base that says what kind
of mistake it is (``ValueError`` for bad input, ``RuntimeError`` for a failure while running), so
code written against those keeps working. This module imports nothing: every layer may use it.
"""


class EnvfoundryError(Exception):
    """Base class of every error the package raises on purpose."""


class InvalidInputError(EnvfoundryError, ValueError):
    """Bad input: a name, a parameter, a setting or a file the caller gave; the message is one
    sentence that says what was wrong."""


class ContractError(EnvfoundryError, TypeError):
    """An environment class, or what its methods return, breaks the authoring contract."""
