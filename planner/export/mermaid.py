"""Mermaid flowchart (renders in GitHub Markdown): one subgraph per platform lane.

>>> from planner.plan.model import Plan
>>> to_mermaid(Plan(root="r", platforms=("linux-64",), nodes=(), edges=(), layers={})).splitlines()[0]
'flowchart LR'
"""

from __future__ import annotations

import re

from planner.export.common import COLOURS, short_labels
from planner.export.text import clean
from planner.plan.model import Plan


def _text(text: str) -> str:
    """A label as mermaid text: quotes, angle brackets, backticks (markdown strings) and ``#`` (entity
    codes) as mermaid entity codes, so a recipe name cannot end the label or inject HTML."""
    return "".join(_ENTITIES.get(ch, ch) for ch in clean(text, 120))


_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "&": "#amp;"}


def to_mermaid(plan: Plan) -> str:
    ids = {n.id: f"n{i}" for i, n in enumerate(sorted(plan.nodes, key=lambda n: n.id))}
    labels = short_labels(plan)
    lines = ["flowchart LR"]
    for kind, fill in COLOURS.items():
        lines.append(f"  classDef {re.sub(r'[^a-z]', '', kind)} fill:{fill},stroke:#333;")
    by_lane: dict[str, list] = {}
    for node in sorted(plan.nodes, key=lambda n: n.id):
        by_lane.setdefault(node.lane, []).append(node)
    for i, (name, nodes) in enumerate(sorted(by_lane.items())):
        lines.append(f'  subgraph lane{i}["{_text(name)}"]')
        for node in nodes:
            kind = "skipped" if node.skipped else node.selected.kind
            lines.append(f'    {ids[node.id]}["{_text(labels[node.id])}"]:::{re.sub(r"[^a-z]", "", kind)}')
        lines.append("  end")
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        arrow = "-.->" if e.via else "-->"
        lines.append(f"  {ids[e.source]} {arrow}|{e.phase}| {ids[e.target]}")
    return "\n".join(lines) + "\n"
