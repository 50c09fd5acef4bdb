"""The archive's lineage tree: each candidate, admitted or rejected, drawn to the right of what it
came from: seed environments and converted problems in the first column, then new environments
written from seeds, mutations of admitted ones and repairs of rejected ones, a column per generation.

A parent is named in the candidate's lineage: an earlier candidate of that name is the parent (the
admitted one, except for a repair, whose parent is the rejected one), else one whose source hash
starts with it; a repair whose parent had no name (``synthesize`` then writes ``candidate``) comes
from the latest rejected candidate of its run before it. Any other name (a seed, a problem) is a root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from envfoundry.report.html import esc, note, plot, table
from envfoundry.report.model import Candidate, Run

ID = "lineage"
TITLE = "Lineage"
MAX_ROWS = 200  # the table shows the newest; the tree shows every candidate
MAX_LABELS = 60  # names drawn beside the nodes up to this many nodes; hover shows them always
EDGE_COLORS = {"new": "#636efa", "mutate": "#ab63fa", "repair": "#ffa15a", "convert": "#19d3f3", "user": "#00cc96"}


@dataclass
class Node:
    key: str
    label: str
    depth: int
    candidate: Candidate | None = None
    parents: list[str] = field(default_factory=list)
    y: float = 0.0


def find_parent(parent: str, child: Candidate, earlier: list[Candidate]) -> Candidate | None:
    """The earlier candidate ``parent`` names for ``child`` (see the module's docstring), or None."""
    repair = child.mode == "repair"
    named = [c for c in earlier if c.name == parent]
    if named:
        return max(named, key=lambda c: (c.admitted != repair, c.id))
    if len(parent) >= 8 and all(ch in "0123456789abcdef" for ch in parent):
        hashed = [c for c in earlier if c.source_hash.startswith(parent)]
        if hashed:
            return hashed[-1]
    if repair:
        unnamed = [c for c in earlier if not c.admitted and not c.name and c.run_id == child.run_id]
        return unnamed[-1] if unnamed else None
    return None


def build_tree(candidates: list[Candidate]) -> dict[str, Node]:
    """Nodes keyed ``c<id>`` (candidates) or ``x:<name>`` (roots outside the archive), with parents and depth."""
    nodes: dict[str, Node] = {}
    earlier: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.id):
        parent_keys = []
        for parent in candidate.parents:
            found = find_parent(parent, candidate, earlier)
            key = f"c{found.id}" if found else f"x:{parent}"
            if found is None:
                nodes.setdefault(key, Node(key, parent, 0))
            parent_keys.append(key)
        depth = 1 + max((nodes[key].depth for key in parent_keys), default=0)
        label = candidate.name or f"candidate {candidate.id}"
        nodes[f"c{candidate.id}"] = Node(f"c{candidate.id}", label, depth, candidate, parent_keys)
        earlier.append(candidate)
    columns: dict[int, list[Node]] = {}
    for node in nodes.values():
        columns.setdefault(node.depth, []).append(node)
    for depth in sorted(columns):
        column = columns[depth]
        if depth == 0:
            column.sort(key=lambda n: n.label)
        else:  # beside their parents, so that fewer edges cross
            column.sort(key=lambda n: (sum(nodes[p].y for p in n.parents) / len(n.parents) if n.parents else 0.0,
                                       n.candidate.id if n.candidate else 0))  # fmt: skip
        for index, node in enumerate(column):
            node.y = index - (len(column) - 1) / 2
    return nodes


def render(run: Run) -> str:
    if not run.candidates:
        why = {"train": "a train run writes no archive", "eval": "an evaluation writes no archive",
               "archive": "the archive holds no candidates yet", "evolve": "its archive holds no candidates yet",
               "engineer": "the engineer writes configurations, not environments"}[run.kind]  # fmt: skip
        return note(f"No lineage in {run.described}: {why}.")
    import plotly.graph_objects as go

    nodes = build_tree(run.candidates)
    figure = go.Figure()
    for mode in sorted({n.candidate.mode for n in nodes.values() if n.candidate and n.parents}):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for node in nodes.values():
            if node.candidate and node.candidate.mode == mode:
                for parent in node.parents:
                    xs += [nodes[parent].depth, node.depth, None]
                    ys += [nodes[parent].y, node.y, None]
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=esc(f"{mode} (from parent)"), hoverinfo="skip",
                                    line={"color": EDGE_COLORS.get(mode, "#999999"), "width": 1.5}))  # fmt: skip
    labels = len(nodes) <= MAX_LABELS
    groups = {
        "seed or source": [n for n in nodes.values() if n.candidate is None],
        "admitted": [n for n in nodes.values() if n.candidate and n.candidate.admitted],
        "rejected": [n for n in nodes.values() if n.candidate and not n.candidate.admitted],
    }
    styles = {"seed or source": ("#7f7f7f", "square"), "admitted": ("#2ca02c", "circle"), "rejected": ("#d62728", "x")}
    for name, members in groups.items():
        if not members:
            continue
        line_color, symbol = styles[name]
        figure.add_trace(go.Scatter(
            x=[n.depth for n in members], y=[n.y for n in members], name=name,
            mode="markers+text" if labels else "markers", text=[esc(n.label) for n in members] if labels else None,
            textposition="top center", textfont={"size": 10}, hoverinfo="text", hovertext=[_hover(n) for n in members],
            marker={"color": line_color, "symbol": symbol, "size": 11, "line": {"width": 1, "color": "white"}},
        ))  # fmt: skip
    depth = max(n.depth for n in nodes.values())
    tallest = max(sum(n.depth == d for n in nodes.values()) for d in range(depth + 1))
    figure.update_layout(title="Lineage: roots on the left, a column per generation", showlegend=True,
                         legend={"orientation": "h", "y": -0.1})  # fmt: skip
    figure.update_xaxes(tickvals=list(range(depth + 1)), ticktext=["roots", *(f"generation {d}" for d in range(1, depth + 1))],
                        range=[-0.5, depth + 0.5], showgrid=False)  # fmt: skip
    figure.update_yaxes(visible=False)
    parts = [plot(figure, "lineage-tree", height=min(2400, max(420, 60 + 32 * tallest)))]
    shown = sorted(run.candidates, key=lambda c: c.id)[-MAX_ROWS:]
    rows = [[c.id, c.name or "–", c.mode, ", ".join(c.parents) or "–",
             "admitted" if c.admitted else f"rejected at {c.failed_stage or '?'}", "" if c.admitted else c.reason]
            for c in shown]  # fmt: skip
    if len(run.candidates) > MAX_ROWS:
        parts.append(note(f"The newest {MAX_ROWS} of {len(run.candidates)} candidates:"))
    parts.append(table(["id", "name", "mode", "parents", "outcome", "reason"], rows, numeric=(0,), css="lineage"))
    return "\n".join(parts)


def _hover(node: Node) -> str:
    c = node.candidate
    if c is None:
        return f"{esc(node.label)} (root)"
    outcome = "admitted" if c.admitted else f"rejected at {esc(c.failed_stage or '?')}: {esc(_short(c.reason))}"
    return f"{esc(node.label)} (#{c.id}, {esc(c.mode)})<br>{outcome}"


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
