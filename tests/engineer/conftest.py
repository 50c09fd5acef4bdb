"""The stage summary the engineer tests read (``engineer_helpers``), made once per session."""

from engineer_helpers import replay_policy, stage_summary

__all__ = ["replay_policy", "stage_summary"]
