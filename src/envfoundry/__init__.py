"""envfoundry: verifiable reasoning environments for RL training of language models.

>>> import envfoundry
>>> env = envfoundry.make("planted_subset_sum")
>>> instance = env.sample(seed=0, level=0.5)
>>> env.score(instance, f"<answer>{instance.reference}</answer>").reward
1.0
"""

from envfoundry.core import (
    ChoiceParam,
    Environment,
    FloatParam,
    Instance,
    IntParam,
    Param,
    ParamSpace,
    Score,
    Verdict,
    answer_instruction,
    extract_answer,
    register,
    registered,
)
from envfoundry.core import registry as _registry
from envfoundry.resolve import make

# The seed library registers itself when first needed (see core.registry); the package, which sits
# above every layer, tells the registry where it is.
_registry.set_seed_loader(lambda: __import__("envfoundry.envs"))

__version__ = "0.1.0"

__all__ = [
    "ChoiceParam",
    "Environment",
    "FloatParam",
    "Instance",
    "IntParam",
    "Param",
    "ParamSpace",
    "Score",
    "Verdict",
    "__version__",
    "answer_instruction",
    "extract_answer",
    "make",
    "register",
    "registered",
]
