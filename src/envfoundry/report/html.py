"""Small HTML pieces the sections share. Every string that comes from a run (environment names,
reasons, model replies) goes through ``esc``: a model may write anything, markup included."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

# Plotly's default colours, so an environment keeps its colour from figure to figure.
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff",
           "#fecb52")  # fmt: skip
FIGURE_CONFIG = {"displaylogo": False, "responsive": True}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def percent(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def note(text: str) -> str:
    """The one line a section shows when the run has nothing for it."""
    return f'<p class="empty">{esc(text)}</p>'


def table(
    headers: Sequence[str] | None, rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (), css: str = ""
) -> str:
    """A table (no header row with ``headers=None``); cells are escaped unless they are ``Markup``.
    ``numeric``: the columns aligned right."""
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{esc(h)}</th>" for i, h in enumerate(headers or ()))
    head = f"<thead><tr>{head}</tr></thead>" if headers else ""
    body = []
    for row in rows:
        cells = "".join(f"<td{' class=num' if i in numeric else ''}>{cell if isinstance(cell, Markup) else esc(cell)}</td>"
                        for i, cell in enumerate(row))  # fmt: skip
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="{esc(css)}">{head}<tbody>{"".join(body)}</tbody></table>'


class Markup(str):
    """HTML built here from escaped parts: a table puts it in as it is."""


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def plot(figure: Any, div_id: str, height: int = 420) -> str:
    """A plotly figure as a ``<div>`` and its script; the page loads plotly.js once, in its head."""
    margin = {"l": 60, "r": 30, "t": 50, "b": 50, **figure.layout.margin.to_plotly_json()}
    figure.update_layout(height=height, template="plotly_white", margin=margin)
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=FIGURE_CONFIG)


def step_axis(figure: Any, last_step: int) -> None:
    """Whole steps on the x axis (a short run would otherwise get ticks at 1.5, 2.5)."""
    figure.update_xaxes(title_text="step", tickformat="d", **({"dtick": 1} if last_step <= 20 else {}))


def level_key(level: str) -> float:
    """Levels are written as text ("0.5"); sort and plot them as numbers."""
    try:
        return float(level)
    except ValueError:
        return float("nan")
