"""An environment-engineer run stage by stage: the held-out pass rate on the configuration each
stage trained on and on the fixed validation configurations, the dead-group share of its training,
and what the engineer proposed: the configuration, the change, its rationale, and whether the
proposal was used as written, repaired, or rejected (the previous configuration stood)."""

from __future__ import annotations

import json

from envfoundry.report.html import Markup, esc, note, percent, plot, table
from envfoundry.report.model import Run

ID = "engineer"
TITLE = "Environment engineer"
REPLY_CHARS = 300  # each of the engineer's replies, as the table shows it


def render(run: Run) -> str:
    if run.kind != "engineer":
        return note(f"No engineer stages in {run.described}: only an environment-engineer run has them.")
    stages = run.engineer_stages
    if not stages:
        return note("No stage has finished yet in this environment-engineer run.")
    import plotly.graph_objects as go

    figure = go.Figure()
    x = [stage.stage for stage in stages]
    for name, values, dash in (("pass rate on its configuration", [s.pass_rate for s in stages], "solid"),
                               ("validation pass rate", [s.validation_pass_rate for s in stages], "dash"),
                               ("dead-group share (training)", [s.dead_group_share for s in stages], "dot")):  # fmt: skip
        if any(value is not None for value in values):
            figure.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=name, line={"dash": dash}))
    figure.update_layout(title="Per stage: held-out pass rates and dead-group share", xaxis_title="stage",
                         xaxis={"dtick": 1}, legend={"orientation": "h", "y": -0.2})  # fmt: skip
    figure.update_yaxes(title_text="share", range=[-0.03, 1.05], tickformat=".0%")
    rows = []
    for stage in stages:
        change = ", ".join(f"{d.get('param')} {d.get('from')} → {d.get('to')}" for d in stage.diff) or "no change"
        said = "; ".join(part for part in (stage.rationale, stage.note, *(f"clamped: {a}" for a in stage.adjusted))
                         if part)  # fmt: skip
        replies = "\n\n".join(f"{(reply.get('reply') or '')[:REPLY_CHARS]}"
                              + (f"\n→ unusable: {reply['error']}" if reply.get("error") else "")
                              for reply in stage.replies)  # fmt: skip
        rows.append([stage.stage, Markup(f"<pre>{esc(json.dumps(stage.config))}</pre>"), percent(stage.pass_rate),
                     percent(stage.validation_pass_rate), percent(stage.dead_group_share),
                     ", ".join(f"{name} {count}" for name, count in stage.failures.items()) or "–",
                     stage.outcome, change, said or "–",
                     Markup(f"<pre>{esc(replies)}</pre>") if replies else "–"])  # fmt: skip
    headers = ["stage", "configuration trained on", "pass rate", "validation", "dead groups", "failures",
               "proposal", "change", "rationale", "engineer's replies"]  # fmt: skip
    rejected = sum(stage.outcome == "rejected" for stage in stages)
    summary = (f"<p>{len(stages)} stages; {rejected} proposal(s) rejected (the previous configuration stood), "
               f"{sum(stage.outcome == 'repaired' for stage in stages)} repaired.</p>")  # fmt: skip
    return plot(figure, "engineer-stages") + summary + table(headers, rows, numeric=(0, 2, 3, 4), css="engineer")
