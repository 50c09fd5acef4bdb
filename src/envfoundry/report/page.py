"""The page: every section in order, with plotly.js inlined once in the head, so the one HTML
file opens anywhere without a network."""

from __future__ import annotations

import time

from envfoundry.report.html import esc
from envfoundry.report.model import Run
from envfoundry.report.sections import SECTIONS

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 48px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
nav a { margin-right: 14px; }
section { margin: 28px 0; }
h2 { border-bottom: 1px solid #eee; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts td:first-child { color: #555; white-space: nowrap; }
table.reasons td:nth-child(2), table.lineage td:last-child { max-width: 640px; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; max-width: 560px; font-size: 12px; }
p.empty { color: #777; font-style: italic; }
details { margin: 8px 0; }
summary { cursor: pointer; }
code { background: #f4f4f4; padding: 1px 4px; }
"""


def render_page(run: Run) -> str:
    """The whole report as one HTML document."""
    bodies = [(section, section.render(run)) for section in SECTIONS]
    uses_plotly = any('class="plotly-graph-div"' in body for _, body in bodies)
    script = ""
    if uses_plotly:
        from plotly.offline import get_plotlyjs

        script = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    title = f"envfoundry report: {run.path.name or run.path}"
    nav = " ".join(f'<a href="#{section.ID}">{esc(section.TITLE)}</a>' for section in SECTIONS)
    sections = "\n".join(f'<section id="{section.ID}"><h2>{esc(section.TITLE)}</h2>\n{body}\n</section>'
                         for section, body in bodies)  # fmt: skip
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{STYLE}</style>
{script}
</head>
<body>
<header><h1>{esc(title)}</h1><p>{esc(run.described[0].upper() + run.described[1:])}, reported {made}.</p>
<nav>{nav}</nav></header>
{sections}
</body>
</html>
"""
