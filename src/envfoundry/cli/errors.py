"""The command line's one error type."""

from envfoundry.errors import EnvfoundryError


class UsageError(EnvfoundryError):
    """Bad input from the user: reported in one line, exit status 2."""
