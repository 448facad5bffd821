"""Cycles in the job graph: find them, print them in full, and break them at their weakest edge.

Real distributions have cycles (cmake and ninja need each other to build; pip -> wheel -> packaging ->
pip). Each strongly connected component is handled on its own: find a cycle, drop its weakest edge
(test, then run, then build tool; host edges last), repeat until the component is acyclic. The dropped
edges become *bootstrap edges* in the plan (the dependency is taken from the channel instead) and each
broken cycle is a warning; ``--strict-cycles`` turns the first cycle into an error instead.

>>> import networkx as nx
>>> g = nx.DiGraph()
>>> g.add_edge("cmake", "ninja", phase="build", spec="cmake", reasons=(("build", "cmake"),))
>>> g.add_edge("ninja", "cmake", phase="build", spec="ninja", reasons=(("build", "ninja"),))
>>> g.add_edge("cmake", "zlib-user", phase="host", spec="cmake", reasons=(("host", "cmake"),))
>>> [c.dropped for c in break_cycles(g)]
[('ninja', 'cmake')]
>>> nx.is_directed_acyclic_graph(g)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from planner.errors import StackplanError
from planner.graph.link import PHASE_RANK


@dataclass(frozen=True)
class CycleEdge:
    source: str
    target: str
    phase: str
    spec: str


@dataclass(frozen=True)
class Cycle:
    """One cycle as found, edge by edge, and the edge dropped to break it."""

    edges: tuple[CycleEdge, ...]
    dropped: tuple[str, str]
    platforms: tuple[str, ...] = ()

    def describe(self) -> str:
        """``a --build: cmake--> b --run: a--> a`` followed by what was dropped."""
        parts = [self.edges[0].source]
        for e in self.edges:
            parts.append(f" --{e.phase}: {e.spec}--> {e.target}")
        where = f" [{', '.join(self.platforms)}]" if self.platforms else ""
        return "".join(parts) + where


class CycleError(StackplanError):
    """Raised under ``--strict-cycles``: the graph has cycles; each is printed in full."""

    def __init__(self, cycles: list[Cycle]) -> None:
        self.cycles = cycles
        lines = "\n".join(f"  {c.describe()}" for c in cycles)
        super().__init__(f"{len(cycles)} dependency cycle(s):\n{lines}")


def _weakness(graph: nx.DiGraph, edge: tuple[str, str]) -> tuple[int, str, str]:
    """Bigger = weaker: phase rank first (test > run > build > host), then ids for determinism."""
    u, v = edge
    return (PHASE_RANK.get(graph.edges[u, v].get("phase", "host"), 0), u, v)


def find_cycles(graph: nx.DiGraph) -> list[Cycle]:
    """Every cycle that :func:`break_cycles` would break, without changing ``graph``."""
    return break_cycles(graph.copy())


def break_cycles(graph: nx.DiGraph) -> list[Cycle]:
    """Break every cycle of ``graph`` in place, weakest edge first; return the cycles in found order.

    Deterministic: components are visited by their smallest node id and each search starts from the
    component's sorted nodes, so the same graph always loses the same edges.
    """
    cycles: list[Cycle] = []
    if nx.is_directed_acyclic_graph(graph):
        return cycles  # the usual case, and much cheaper to establish than the components
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=min):
        sub = nx.DiGraph()
        nodes = sorted(component)
        sub.add_nodes_from(nodes)
        sub.add_edges_from(
            sorted((u, v, graph.edges[u, v]) for u in nodes for v in graph.successors(u) if v in component)
        )
        while True:
            try:
                found = nx.find_cycle(sub, source=nodes)
            except nx.NetworkXNoCycle:
                break
            pairs = [(u, v) for u, v, *_ in found]
            weakest = max(pairs, key=lambda e: _weakness(sub, e))
            edges = tuple(
                CycleEdge(u, v, sub.edges[u, v].get("phase", ""), sub.edges[u, v].get("spec", ""))
                for u, v in pairs
            )
            platforms = sorted({graph.nodes[n]["job"].platform for n, _ in pairs if "job" in graph.nodes[n]})
            cycles.append(Cycle(edges, weakest, tuple(platforms)))
            sub.remove_edge(*weakest)
            graph.remove_edge(*weakest)
    return cycles
