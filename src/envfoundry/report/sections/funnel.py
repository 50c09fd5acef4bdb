"""The synthesis funnel: of the candidates proposed, how many passed each validation stage, in
pipeline order, and how many were admitted; why the rest were rejected, stage by stage."""

from __future__ import annotations

from envfoundry.report.html import esc, note, plot, table
from envfoundry.report.model import Funnel, Run

ID = "funnel"
TITLE = "Synthesis funnel"


def render(run: Run) -> str:
    if not run.funnels:
        why = {"train": "a train run proposes no environments (report its pool's archive for that)",
               "eval": "an evaluation proposes no environments",
               "archive": "the archive holds no candidates yet",
               "evolve": "no stage has synthesized yet",
               "engineer": "the engineer writes configurations, not environments"}[run.kind]  # fmt: skip
        return note(f"No synthesis funnel in {run.described}: {why}.")
    return "\n".join(_one(funnel, index) for index, funnel in enumerate(run.funnels))


def _one(funnel: Funnel, index: int) -> str:
    import plotly.graph_objects as go

    counts = funnel.counts
    passed = counts.get("passed") or {}
    skipped = counts.get("skipped") or {}
    failed = counts.get("failed") or {}
    stages = list(passed) + [stage for stage in failed if stage not in passed]
    labels = ["proposed", *stages, "admitted"]
    values = [counts.get("candidates", 0), *(passed.get(stage, 0) for stage in stages), counts.get("admitted", 0)]
    text = [f"{values[0]}"]
    for stage in stages:
        extra = [f"{failed[stage]} failed"] if failed.get(stage) else []
        extra += [f"{skipped[stage]} skipped"] if skipped.get(stage) else []
        text.append(f"{passed.get(stage, 0)} passed" + (f" ({', '.join(extra)})" if extra else ""))
    text.append(f"{values[-1]} admitted")
    figure = go.Figure(go.Funnel(y=[esc(label) for label in labels], x=values, text=[esc(t) for t in text],
                                 textinfo="text", hoverinfo="y+text", marker={"color": "#636efa"}))  # fmt: skip
    figure.update_layout(showlegend=False, margin={"t": 10})
    parts = [f"<h3>{esc(funnel.label)}</h3>", plot(figure, f"funnel-{index}", height=120 + 45 * len(labels))]
    reasons = counts.get("reasons") or {}
    rows = [[stage, reason, n] for stage, found in reasons.items() for reason, n in found]
    if rows:
        parts.append(table(["rejected at", "reason", "candidates"], rows, numeric=(2,), css="reasons"))
    else:
        parts.append(note("No candidate was rejected."))
    return "\n".join(parts)
