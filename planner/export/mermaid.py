"""Mermaid flowchart (renders in GitHub Markdown): one subgraph per platform lane.

GitHub renders a mermaid block only within its limits (:data:`MAX_EDGES` edges, :data:`MAX_TEXT`
characters). A plan over them is drawn one node per recipe and lane (its variants together, edges
merged); if even that is over, the first line is a ``%%`` comment saying so and what to use instead.

>>> from planner.plan.model import Plan
>>> to_mermaid(Plan(root="r", platforms=("linux-64",), nodes=(), edges=(), layers={})).splitlines()[0]
'flowchart LR'
"""

from __future__ import annotations

import re

from planner.export.common import COLOURS, short_labels
from planner.export.text import clean
from planner.plan.model import Plan

#: GitHub's mermaid limits: edges drawn, and characters of the diagram text.
MAX_EDGES = 500
MAX_TEXT = 50_000


def _text(text: str) -> str:
    """A label as mermaid text: quotes, angle brackets, backticks (markdown strings) and ``#`` (entity
    codes) as mermaid entity codes, so a recipe name cannot end the label or inject HTML."""
    return "".join(_ENTITIES.get(ch, ch) for ch in clean(text, 120))


_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "&": "#amp;"}


def _kind(node) -> str:
    return re.sub(r"[^a-z]", "", "skipped" if node.skipped else node.selected.kind)


def to_mermaid(plan: Plan) -> str:
    """The flowchart, grouped by recipe when one node per job would be over GitHub's limits."""
    text = _jobs(plan)
    if len(plan.edges) <= MAX_EDGES and len(text) <= MAX_TEXT:
        return text
    grouped, edges = _recipes(plan)
    if edges <= MAX_EDGES and len(grouped) <= MAX_TEXT:
        note = (
            f"%% {len(plan.nodes)} jobs / {len(plan.edges)} edges are over GitHub's mermaid limits"
            f" ({MAX_EDGES} edges, {MAX_TEXT:,} characters): one node per recipe and platform"
        )
        return note + "\n" + grouped
    note = (
        f"%% warning: {len(plan.nodes)} jobs / {len(plan.edges)} edges are over GitHub's mermaid limits"
        f" ({MAX_EDGES} edges, {MAX_TEXT:,} characters) even grouped by recipe: GitHub will not render it;"
        " use `stackplan graph --format html`"
    )
    return note + "\n" + text


def _header() -> list[str]:
    lines = ["flowchart LR"]
    for kind, fill in COLOURS.items():
        lines.append(f"  classDef {re.sub(r'[^a-z]', '', kind)} fill:{fill},stroke:#333;")
    return lines


def _jobs(plan: Plan) -> str:
    ids = {n.id: f"n{i}" for i, n in enumerate(sorted(plan.nodes, key=lambda n: n.id))}
    labels = short_labels(plan)
    lines = _header()
    by_lane: dict[str, list] = {}
    for node in sorted(plan.nodes, key=lambda n: n.id):
        by_lane.setdefault(node.lane, []).append(node)
    for i, (name, nodes) in enumerate(sorted(by_lane.items())):
        lines.append(f'  subgraph lane{i}["{_text(name)}"]')
        for node in nodes:
            lines.append(f'    {ids[node.id]}["{_text(labels[node.id])}"]:::{_kind(node)}')
        lines.append("  end")
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        arrow = "-.->" if e.via else "-->"
        lines.append(f"  {ids[e.source]} {arrow}|{e.phase}| {ids[e.target]}")
    return "\n".join(lines) + "\n"


def _recipes(plan: Plan) -> tuple[str, int]:
    """One node per (recipe, lane): ``name version xN``; edges between groups, each drawn once."""
    group = {n.id: (n.lane, n.recipe) for n in plan.nodes}
    members: dict[tuple[str, str], list] = {}
    for n in sorted(plan.nodes, key=lambda n: n.id):
        members.setdefault(group[n.id], []).append(n)
    ids = {key: f"g{i}" for i, key in enumerate(sorted(members))}
    lines = _header()
    lanes = sorted({lane for lane, _ in members})
    for i, lane in enumerate(lanes):
        lines.append(f'  subgraph lane{i}["{_text(lane)}"]')
        for key in sorted(k for k in members if k[0] == lane):
            nodes = members[key]
            first = nodes[0]
            name = f"{first.outputs[0].name}-{first.outputs[0].version}" if first.outputs else first.recipe
            count = f" x{len(nodes)}" if len(nodes) > 1 else ""
            lines.append(f'    {ids[key]}["{_text(name + count)}"]:::{_kind(first)}')
        lines.append("  end")
    pairs = sorted(
        {(group[e.source], group[e.target]) for e in plan.edges if group[e.source] != group[e.target]}
    )
    for a, b in pairs:
        lines.append(f"  {ids[a]} --> {ids[b]}")
    return "\n".join(lines) + "\n", len(pairs)
