"""Exports of a plan: json, dot, graphml, mermaid, markdown (the PR preview), html (an explorable graph page,
Cytoscape.js + dagre, vendored).

Every exporter is a function ``Plan -> str`` and deterministic (same plan, same bytes).

>>> sorted(FORMATS)
['dot', 'graphml', 'html', 'json', 'markdown', 'mermaid']
"""

from __future__ import annotations

from collections.abc import Callable

from planner.export.dot import to_dot
from planner.export.graphml import to_graphml
from planner.export.html import to_html
from planner.export.markdown import to_markdown
from planner.export.mermaid import to_mermaid
from planner.plan.model import Plan


def to_json(plan: Plan) -> str:
    """The canonical plan JSON (what ``plan -o`` writes)."""
    return plan.to_json()


FORMATS: dict[str, Callable[[Plan], str]] = {
    "json": to_json,
    "dot": to_dot,
    "graphml": to_graphml,
    "mermaid": to_mermaid,
    "markdown": to_markdown,
    "html": to_html,
}


def export(plan: Plan, fmt: str) -> str:
    """Render ``plan`` in format ``fmt`` (one of :data:`FORMATS`); ValueError for an unknown format."""
    try:
        return FORMATS[fmt](plan)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of: {', '.join(sorted(FORMATS))}") from None
