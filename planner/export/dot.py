"""Graphviz DOT: one cluster per platform lane, nodes ranked by layer, colour by why selected.

>>> from planner.plan.model import Plan
>>> to_dot(Plan(root="r", platforms=("linux-64",), nodes=(), edges=(), layers={})).splitlines()[0]
'digraph stackplan {'
"""

from __future__ import annotations

from planner.export.common import colour, short_labels
from planner.export.text import clean
from planner.plan.model import Plan


def _q(text: str) -> str:
    """A DOT quoted string: backslashes (DOT's own escapes like ``\\l``) and quotes escaped, one line."""
    return '"' + clean(text, 1000).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(plan: Plan) -> str:
    lines = ["digraph stackplan {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled"];']
    labels = short_labels(plan)
    by_lane: dict[str, list] = {}
    for node in sorted(plan.nodes, key=lambda n: n.id):
        by_lane.setdefault(node.lane, []).append(node)
    for i, (name, nodes) in enumerate(sorted(by_lane.items())):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f"    label={_q(name)};")
        for node in nodes:
            why = node.skipped.kind if node.skipped else node.selected.kind
            lines.append(
                f"    {_q(node.id)} [label={_q(labels[node.id])}, fillcolor={_q(colour(node))}, "
                f"tooltip={_q(f'{node.recipe} layer {node.layer}: {why}')}];"
            )
        lines.append("  }")
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        style = ", style=dashed" if e.via else ""
        lines.append(f"  {_q(e.source)} -> {_q(e.target)} [label={_q(e.phase)}{style}];")
    for e in plan.bootstrap_edges:
        lines.append(
            f"  {_q(e.source)} -> {_q(e.target)} [label={_q('bootstrap ' + e.phase)}, style=dotted];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"
