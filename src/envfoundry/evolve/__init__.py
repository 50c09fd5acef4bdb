"""The self-evolving loop (EvoEnv): one policy writes environments and learns from them, stage
after stage; ``evolve.loop`` runs it, ``evolve.generator`` is the generator role and its reward."""

from envfoundry.evolve.generator import generator_reward
from envfoundry.evolve.loop import EvolveConfig, evolve, load_config

__all__ = ["EvolveConfig", "evolve", "generator_reward", "load_config"]
