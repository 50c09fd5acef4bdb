"""What the run is: its kind, its settings and headline figures, each evaluation file, and what
was missing when it was read."""

from __future__ import annotations

from envfoundry.report.html import esc, table
from envfoundry.report.model import Run

ID = "summary"
TITLE = "Summary"


def render(run: Run) -> str:
    parts = [f"<p>{esc(run.described[0].upper() + run.described[1:])} read from <code>{esc(run.path)}</code>.</p>"]
    if run.facts:
        parts.append(table(None, run.facts, css="facts"))
    described = [evaluation for evaluation in run.evaluations if evaluation.about]
    if len(described) > 1:
        keys = list(dict.fromkeys(key for evaluation in described for key in evaluation.about))
        parts.append("<h3>Evaluations</h3>")
        parts.append(table(["evaluation", *keys],
                           ([evaluation.label, *(evaluation.about.get(key, "") for key in keys)] for evaluation in described)))  # fmt: skip
    if run.notes:
        notes = "".join(f"<li>{esc(note)}</li>" for note in run.notes)
        parts.append(f"<h3>Read with gaps</h3><ul class=notes>{notes}</ul>")
    return "\n".join(parts)
