"""Curriculum trajectories: the level the controller set for each environment, step by step (a
point where the environment trained that step), the active-set swaps (which environment left, which
came in, and why) and, in an evolve run, where each stage's training began."""

from __future__ import annotations

from envfoundry.report.html import color, esc, note, plot, step_axis, table
from envfoundry.report.model import Run

ID = "curriculum"
TITLE = "Curriculum"


def add_stage_starts(figure, run: Run) -> None:
    """Dashed lines where each evolve stage's training began."""
    for stage, first in run.stage_starts:
        figure.add_vline(x=first - 0.5, line_dash="dash", line_color="gray",
                         annotation_text=f"stage {stage}", annotation_position="top left")  # fmt: skip


def render(run: Run) -> str:
    trained = [step for step in run.steps if step.envs]
    if not trained:
        why = {"train": "curriculum.jsonl is missing or empty",
               "archive": "synthesis and conversion do not train",
               "eval": "an evaluation does not train",
               "evolve": "no stage has trained yet",
               "engineer": "each stage trains on the configuration the engineer wrote, not on a level (the "
                           "environment engineer section shows them)"}[run.kind]  # fmt: skip
        return note(f"No curriculum in {run.described}: {why}.")
    import plotly.graph_objects as go

    envs = sorted({env for step in trained for env in step.envs})
    figure = go.Figure()
    for index, env in enumerate(envs):
        points = [(step.step, step.envs[env]) for step in trained if env in step.envs]
        hover = [f"{esc(env)}<br>step {s}: level {stats.get('level', 0):.3g}, accuracy {stats.get('accuracy', 0):.0%}"
                 for s, stats in points]  # fmt: skip
        figure.add_trace(go.Scatter(x=[s for s, _ in points], y=[stats.get("level") for _, stats in points],
                                    mode="lines+markers", name=esc(env), line={"color": color(index)},
                                    hovertext=hover, hoverinfo="text"))  # fmt: skip
    swaps = [(step.step, swap) for step in run.steps for swap in step.swaps]
    if swaps:
        figure.add_trace(go.Scatter(
            x=[s for s, _ in swaps], y=[1.06] * len(swaps), mode="markers", name="active-set swap",
            marker={"symbol": "triangle-down", "size": 11, "color": "black"}, hoverinfo="text",
            hovertext=[f"step {s}: {esc(swap.get('out'))} out, {esc(swap.get('in'))} in ({esc(swap.get('reason'))})"
                       for s, swap in swaps],
        ))  # fmt: skip
    add_stage_starts(figure, run)
    figure.update_layout(title="Level per environment over steps", yaxis_title="level")
    step_axis(figure, run.steps[-1].step)
    figure.update_yaxes(range=[-0.03, 1.1])
    parts = [plot(figure, "curriculum-levels", height=460)]
    if swaps:
        parts.append(table(["step", "out", "in", "reason"],
                           ([s, swap.get("out", "?"), swap.get("in", "?"), swap.get("reason", "?")] for s, swap in swaps),
                           numeric=(0,)))  # fmt: skip
    else:
        parts.append(note(f"No active-set swaps in {len(run.steps)} steps."))
    active = [step for step in run.steps if step.active]
    if active:
        first, last = active[0], active[-1]
        parts.append(f"<p>Active set at step {first.step}: {esc(', '.join(first.active))}"
                     + (f"; at step {last.step}: {esc(', '.join(last.active))}" if last is not first else "") + ".</p>")  # fmt: skip
    return "\n".join(parts)
