"""GraphML through networkx (for yEd, Gephi, or networkx itself)."""

from __future__ import annotations

import networkx as nx

from planner.export.common import plan_graph
from planner.plan.model import Plan


def to_graphml(plan: Plan) -> str:
    """The plan's jobs and edges as GraphML; bootstrap edges are kept with ``bootstrap=true``."""
    g = plan_graph(plan)
    for e in plan.bootstrap_edges:
        if e.source in g and e.target in g and not g.has_edge(e.source, e.target):
            g.add_edge(e.source, e.target, phase=e.phase, spec=e.spec, via="", bootstrap=True)
    return "\n".join(nx.generate_graphml(g, prettyprint=True)) + "\n"
