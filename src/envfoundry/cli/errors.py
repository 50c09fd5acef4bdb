"""The command line's one error type."""


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""
