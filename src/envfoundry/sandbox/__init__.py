"""Run untrusted environment code in isolated worker processes.

>>> env = envfoundry.make("path/to/env.py")          # sandboxed: not part of the package
>>> env.sample_many(range(256), level=0.5)           # one round trip per worker
>>> env.score(instance, response)                    # never raises; sandbox failures score 0

The sandbox fails closed: workers run under bubblewrap, and where it cannot run, starting one
raises ``SandboxUnavailable`` unless weaker ``process`` isolation was asked for. See
``isolation.py`` for what confines a worker, ``limits.py`` for the limits, ``pool.py`` for
batching and recovery (``host_worker.py`` for one worker seen from the host), ``static_check.py``
for the pre-check, ``worker.py`` for the sandbox side.
"""

from envfoundry.sandbox.environment import SandboxCallError, SandboxedEnvironment, SandboxRejected
from envfoundry.sandbox.isolation import (
    Isolation,
    IsolationSettingError,
    SandboxUnavailable,
    SandboxWarning,
    resolve_isolation,
)
from envfoundry.sandbox.limits import SandboxLimits
from envfoundry.sandbox.pool import SandboxError, SandboxPool
from envfoundry.sandbox.static_check import Finding, static_check

__all__ = [
    "Finding",
    "Isolation",
    "IsolationSettingError",
    "SandboxCallError",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
    "SandboxRejected",
    "SandboxUnavailable",
    "SandboxWarning",
    "SandboxedEnvironment",
    "resolve_isolation",
    "static_check",
]
