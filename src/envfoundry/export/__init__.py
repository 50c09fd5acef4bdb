"""Environments for other trainers, and scoring what they sampled wherever it runs.

``verl.py`` writes verl's RL dataset (Parquet) and the reward module verl loads by path
(``verl_reward.py``, copied beside the dataset); ``scoring.py`` scores exported instances in
another process (an environment cache for reward workers) or as a batch on an executor.
"""

from envfoundry.export.scoring import Environments, reward_info, score_pairs

__all__ = ["Environments", "reward_info", "score_pairs"]
