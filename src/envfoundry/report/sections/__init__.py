"""The report's sections, in page order; each has an ``ID`` (the ``<section id>``), a ``TITLE`` and
``render(run) -> str`` (HTML). A section the run has no data for renders one line saying so."""

from envfoundry.report.sections import (
    curriculum,
    curves,
    dynamics,
    engineer,
    evaluation,
    funnel,
    lineage,
    stages,
    summary,
)

SECTIONS = (summary, stages, engineer, funnel, curves, curriculum, dynamics, lineage, evaluation)
SECTION_IDS = tuple(section.ID for section in SECTIONS)

__all__ = ["SECTIONS", "SECTION_IDS"]
