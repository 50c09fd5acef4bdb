"""The environment engineer (LLM-as-Environment-Engineer): between RL stages the policy reads
structured summaries of its behaviour and failures and writes the next stage's configuration of the
environment; never its instances. ``engineer.loop`` runs the stages, ``engineer.summaries`` builds
what the engineer reads, ``engineer.proposal`` prompts, parses, checks, clamps and repairs,
``engineer.controllers`` holds the model engineer and the baselines it is compared with."""

from envfoundry.engineer.controllers import (
    BASELINES,
    Engineer,
    FixedEngineer,
    HeuristicEngineer,
    ModelEngineer,
    RandomEngineer,
    ScalerEngineer,
    make_engineer,
)
from envfoundry.engineer.loop import EngineerConfig, read_stages, resume_config, run_engineer
from envfoundry.engineer.proposal import ABLATIONS, Proposal, ProposalError, StageContext, propose

__all__ = [
    "ABLATIONS",
    "BASELINES",
    "Engineer",
    "EngineerConfig",
    "FixedEngineer",
    "HeuristicEngineer",
    "ModelEngineer",
    "Proposal",
    "ProposalError",
    "RandomEngineer",
    "ScalerEngineer",
    "StageContext",
    "make_engineer",
    "propose",
    "read_stages",
    "resume_config",
    "run_engineer",
]
