"""Where batches of independent work run: a process pool here (the default) or a Ray cluster.

>>> with make_executor("local", workers=4) as executor:         # or make_executor("ray")
...     results = executor.map(fn, items, desc="validation")     # in the items' order

Validation of a round's candidates, the scoring half of calibration, batch scoring and the
probing of programming problems grow with the machines given to them; their callers (``synth``,
``convert``, ``export``) pass picklable functions that rebuild what they need where they run, so
this package knows nothing above the sandbox. ``base.py`` holds the interface and
``make_executor``; ``local.py`` the process pool; ``ray_cluster.py`` Ray, imported only when chosen.
"""

from envfoundry.executor.base import EXECUTORS, Executor, default_workers, make_executor
from envfoundry.executor.local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "default_workers", "make_executor"]
