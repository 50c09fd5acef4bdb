"""Pass rate over level, per environment: held-out, for each evaluation of the run (an environment
keeps its colour; each evaluation has its own dash), and the solver's at calibration, as recorded
when each environment was admitted (the calibration stage aims near 0.3)."""

from __future__ import annotations

from envfoundry.report.html import color, esc, level_key, note, plot
from envfoundry.report.model import Evaluation, Run

ID = "curves"
TITLE = "Pass rate over level"
DASHES = ("dot", "dash", "solid", "dashdot", "longdash", "longdashdot")
CALIBRATION_TARGET = 0.3  # synth.stages.calibration.TARGET, repeated: the report reads files, not stages


def shown_evaluations(run: Run) -> list[Evaluation]:
    """Every evaluation of a train run or of evaluation files; an evolve or engineer run's first and last stage."""
    if run.kind in ("evolve", "engineer") and len(run.evaluations) > 2:
        return [run.evaluations[0], run.evaluations[-1]]
    return run.evaluations


def render(run: Run) -> str:
    import plotly.graph_objects as go

    parts = []
    evaluations = shown_evaluations(run)
    if evaluations:
        envs = sorted({env for evaluation in evaluations for env in evaluation.pass_rates})
        figure = go.Figure()
        for which, evaluation in enumerate(evaluations):
            dash = DASHES[which % len(DASHES)] if which < len(evaluations) - 1 else "solid"
            for env_index, env in enumerate(envs):
                _add_curve(figure, evaluation.pass_rates.get(env, {}), f"{env} · {evaluation.label}", env, dash,
                           color(env_index))  # fmt: skip
        title = "Held-out pass rate by level" + (": first and last stage" if evaluations is not run.evaluations else "")
        figure.update_layout(title=title, xaxis_title="level", yaxis_title="pass rate")
        figure.update_yaxes(range=[-0.02, 1.02], tickformat=".0%")
        parts.append(plot(figure, "curves-held-out", height=460))
    if run.calibration:
        figure = go.Figure()
        for env_index, env in enumerate(sorted(run.calibration)):
            _add_curve(figure, run.calibration[env], env, env, "solid", color(env_index))
        figure.add_hline(y=CALIBRATION_TARGET, line_dash="dot", line_color="gray",
                         annotation_text=f"target {CALIBRATION_TARGET:g}")  # fmt: skip
        figure.update_layout(title="Solver pass rate by level at calibration (admitted environments)",
                             xaxis_title="level", yaxis_title="pass rate")  # fmt: skip
        figure.update_yaxes(range=[-0.02, 1.02], tickformat=".0%")
        parts.append(plot(figure, "curves-calibration"))
    if not parts:
        why = {"train": "the run has no held-out evaluation (--eval-seeds 0, or it did not finish)",
               "archive": "no admitted environment was calibrated (calibration needs a solver model)",
               "eval": "the evaluation holds no results",
               "evolve": "no stage has been evaluated yet",
               "engineer": "no stage has been evaluated yet (or --validation-levels was empty)"}[run.kind]  # fmt: skip
        return note(f"No pass-rate curves in {run.described}: {why}.")
    return "\n".join(parts)


def _add_curve(figure, curve: dict[str, float], name: str, group: str, dash: str, line_color: str) -> None:
    import plotly.graph_objects as go

    if not curve:
        return
    points = sorted((level_key(level), rate) for level, rate in curve.items())
    figure.add_trace(go.Scatter(x=[level for level, _ in points], y=[rate for _, rate in points], mode="lines+markers",
                                name=esc(name), legendgroup=esc(group),
                                line={"dash": dash, "color": line_color}))  # fmt: skip
