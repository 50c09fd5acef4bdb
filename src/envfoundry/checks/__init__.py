"""The checks an environment must pass before anyone trains on it.

``battery`` is the battery every environment passes (seeds in the test suite, synthesized
candidates in the execution stage, adapted datasets in vetting), in the spirit of scikit-learn's
``check_estimator``; ``reasoning_gym`` vets reasoning-gym's datasets with it. The checks sit above
``resolve``: the cross-process check makes the environment again, by name, in a fresh interpreter.
"""

from envfoundry.checks.battery import LEVELS, CheckResult, check_environment

__all__ = ["LEVELS", "CheckResult", "check_environment"]
