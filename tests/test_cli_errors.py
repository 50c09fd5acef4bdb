import pytest

from envfoundry.cli.errors import UsageError, as_usage_errors, first_line
from envfoundry.llm import LLMError
from envfoundry.sandbox import SandboxError, SandboxUnavailable
from envfoundry.sandbox.host_worker import SandboxLoadError


def test_first_line_is_the_message_s_first_line_or_the_type():
    assert first_line(ValueError("  bad level 2\n  at line 3\n")) == "bad level 2"
    assert first_line(OSError()) == "OSError"


def _raised(exc, *errors, sandbox=None):
    with pytest.raises(BaseException) as caught, as_usage_errors(*errors, sandbox=sandbox):
        raise exc
    return caught.value


def test_listed_errors_and_sandbox_refusals_become_one_line_usage_errors():
    found = _raised(LLMError("no model at /x\ntraceback..."), ValueError, LLMError, sandbox="the sandbox cannot run")
    assert isinstance(found, UsageError) and str(found) == "no model at /x"
    found = _raised(SandboxUnavailable("bwrap is missing"), ValueError, sandbox="the sandbox cannot run")
    assert isinstance(found, UsageError) and str(found) == "the sandbox cannot run: bwrap is missing"
    # A file that fails to load is the user's ValueError, reported as such, not as a sandbox failure.
    found = _raised(SandboxLoadError("env.py: no Environment subclass"), ValueError, sandbox="the sandbox cannot run")
    assert str(found) == "env.py: no Environment subclass"


def test_anything_else_passes_through_unchanged():
    assert type(_raised(KeyError("k"), ValueError, sandbox="s")) is KeyError
    # Without ``sandbox`` a sandbox failure is not the user's mistake and keeps its type.
    assert type(_raised(SandboxError("worker crashed", "crash"), ValueError)) is SandboxError
