"""An evolve run stage by stage: what the generator proposed and got admitted, the held-out pass
rate after each stage (stage 0: before any training) and the dead-group share of its training."""

from __future__ import annotations

from envfoundry.report.html import note, percent, plot, table
from envfoundry.report.model import Run

ID = "stages"
TITLE = "Stages"


def render(run: Run) -> str:
    if run.kind != "evolve":
        return note(f"No stages in {run.described}: only an evolve run has them.")
    if not run.stages and not run.evaluations:
        return note("No stage has finished yet in this evolve run.")
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(specs=[[{"secondary_y": True}]])
    if run.evaluations:
        figure.add_trace(go.Scatter(x=[e.stage for e in run.evaluations], y=[e.overall for e in run.evaluations],
                                    mode="lines+markers", name="held-out pass rate",
                                    hovertext=[e.label for e in run.evaluations]))  # fmt: skip
    dead = [(stage.stage, stage.dead_group_share) for stage in run.stages if stage.dead_group_share is not None]
    if dead:
        figure.add_trace(go.Scatter(x=[s for s, _ in dead], y=[d for _, d in dead], mode="lines+markers",
                                    name="dead-group share (training)", line={"dash": "dot"}))  # fmt: skip
    admitted = [(stage.stage, stage.admitted) for stage in run.stages if isinstance(stage.admitted, int)]
    if admitted:
        figure.add_trace(go.Bar(x=[s for s, _ in admitted], y=[a for _, a in admitted], name="environments admitted",
                                opacity=0.35), secondary_y=True)  # fmt: skip
    figure.update_layout(title="Per stage: held-out pass rate, dead-group share, admissions", xaxis_title="stage",
                         xaxis={"dtick": 1}, legend={"orientation": "h", "y": -0.2})  # fmt: skip
    figure.update_yaxes(title_text="share", range=[0, 1.05], tickformat=".0%", secondary_y=False)
    figure.update_yaxes(title_text="admitted", rangemode="tozero", secondary_y=True, showgrid=False)
    rows = []
    by_stage = {evaluation.stage: evaluation for evaluation in run.evaluations}
    for stage in run.stages:
        evaluated = by_stage.get(stage.stage)
        held_out = stage.pass_rate if stage.pass_rate is not None else evaluated.overall if evaluated else None
        reward = "–" if stage.generator_reward is None else f"{stage.generator_reward:.3f}"
        seconds = ", ".join(f"{key} {value:.0f}" for key, value in stage.seconds.items()) or "–"
        rows.append([stage.stage, _count(stage.proposals), _count(stage.admitted), reward, percent(held_out, 1),
                     percent(stage.dead_group_share), seconds])  # fmt: skip
    headers = ["stage", "proposals", "admitted", "generator reward", "held-out pass rate", "dead-group share",
               "seconds"]  # fmt: skip
    return plot(figure, "stages-progress") + table(headers, rows, numeric=(0, 1, 2, 3, 4, 5))


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) else "–"
