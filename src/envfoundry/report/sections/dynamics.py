"""Training dynamics over steps: the dead-group share (groups whose rollouts all scored alike, so
GRPO learns nothing from them), the share that failed every rollout, the curriculum's mean reward,
and TRL's logged reward and loss."""

from __future__ import annotations

from envfoundry.report.html import note, plot, step_axis
from envfoundry.report.model import Run
from envfoundry.report.sections.curriculum import add_stage_starts

ID = "dynamics"
TITLE = "Dead groups and reward"


def render(run: Run) -> str:
    unsolved = [(s.step, s.dead_unsolved_share) for s in run.steps if s.dead_unsolved_share is not None]
    series = {
        "dead-group share": [(s.step, s.dead_share) for s in run.steps if s.dead_share is not None],
        "failed every rollout": unsolved,
        "mean reward (curriculum)": [(s.step, s.reward_mean) for s in run.steps if s.reward_mean is not None],
        "reward (TRL)": [(p["step"], p["reward"]) for p in run.log if "reward" in p],
    }
    losses = [(p["step"], p["loss"]) for p in run.log if "loss" in p]
    if not any(series.values()) and not losses:
        why = {"train": "the run logged no steps", "archive": "synthesis and conversion do not train",
               "eval": "an evaluation does not train", "evolve": "no stage has trained yet",
               "engineer": "no stage has trained yet"}[run.kind]  # fmt: skip
        return note(f"No training steps in {run.described}: {why}.")
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(specs=[[{"secondary_y": True}]])
    dashes = {"dead-group share": "solid", "failed every rollout": "dot", "mean reward (curriculum)": "solid",
              "reward (TRL)": "dash"}  # fmt: skip
    for name, points in series.items():
        if points:
            figure.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], mode="lines+markers",
                                        name=name, line={"dash": dashes[name]}))  # fmt: skip
    if losses:
        figure.add_trace(go.Scatter(x=[s for s, _ in losses], y=[v for _, v in losses], mode="lines", name="loss (TRL)",
                                    line={"color": "gray", "width": 1}), secondary_y=True)  # fmt: skip
    add_stage_starts(figure, run)
    figure.update_layout(title="Dead-group share and reward over steps", legend={"orientation": "h", "y": -0.2})
    step_axis(figure, max(step for points in [*series.values(), losses] for step, _ in points))
    figure.update_yaxes(title_text="share / reward", range=[-0.03, 1.05], secondary_y=False)
    figure.update_yaxes(title_text="loss", secondary_y=True, showgrid=False)
    return plot(figure, "dynamics-steps", height=440)
