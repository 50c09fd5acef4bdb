"""Reading a written report back in the tests: its sections, their tables and the data of its figures."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser


def section(page: str, section_id: str) -> str:
    found = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.DOTALL)
    assert found, f"no section '{section_id}' in the page"
    return found[1]


def figure(page: str, div_id: str) -> list[dict]:
    """The traces a plotly figure was drawn with (the JSON passed to ``Plotly.newPlot``)."""
    found = re.search(rf'Plotly\.newPlot\(\s*"{re.escape(div_id)}",\s*', page)
    assert found, f"no figure '{div_id}' in the page"
    traces, _ = json.JSONDecoder().raw_decode(page, found.end())
    return traces


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    """Every table in ``html`` as rows of cell texts (entities decoded), header row included."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables
