"""Cycles in the job graph: find them, print them in full, and break them by the fewest, weakest edges.

Real distributions have cycles (cmake and ninja need each other to build; pip -> wheel -> packaging ->
pip). Each strongly connected component is handled on its own, and loses a small set of edges that
leaves it acyclic:

- the **weight** of a set is the sum of its edges' phase weights, test < run < build < host (a host
  edge is worth more than any number of weaker ones: :data:`PHASE_WEIGHT`); among sets of equal
  weight, the one whose edges close more cycles (fewer edges) wins;
- run and test edges are *soft*: they are ordering preferences (as rattler-build treats run
  dependencies since its PR #2796), kept wherever they do not close a cycle, and dropped before any
  build or host edge;
- the set is **minimal**: after choosing it, every dropped edge that can be put back without closing a
  cycle is put back (strongest first).

Finding a minimum-weight feedback arc set is NP-hard, so three candidates are computed and the
lightest kept: (1) drop, one at a time, the weakest edge that closes the most of the component's
cycles (cycles enumerated up to :data:`CYCLE_SAMPLE` per component); (2) a weighted Eades-Lin-Smyth
ordering of the nodes, dropping the edges that point backwards; (3) the old greedy method (find a
cycle, drop its weakest edge, repeat). So the result never weighs more than the greedy one.

The dropped edges become *bootstrap edges* in the plan (the dependency is taken from the channel
instead), each listed with the cycles it broke; ``--strict-cycles`` turns the first cycle into an
error instead.

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

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from planner.errors import StackplanError
from planner.model import EDGE_PHASES

#: Weight of dropping one edge of a phase: each phase outweighs any plausible number of weaker edges
#: (a component loses far fewer than 64 edges of one phase), so a lighter set drops weaker phases.
#: From :data:`planner.model.EDGE_PHASES` (strongest first): host 64**3, build 64**2, run 64, test 1.
PHASE_WEIGHT: dict[str, int] = {p: 64 ** (len(EDGE_PHASES) - 1 - rank) for rank, p in enumerate(EDGE_PHASES)}
#: How many simple cycles of one component are enumerated to count the cycles each edge closes (a big
#: component has exponentially many; the count over this many is the estimate).
CYCLE_SAMPLE = 2000
#: Listed per dropped edge in the plan (the count says how many there were in the sample).
CYCLES_LISTED = 5

Pair = tuple[str, str]


@dataclass(frozen=True)
class CycleEdge:
    source: str
    target: str
    phase: str
    spec: str


@dataclass(frozen=True)
class Cycle:
    """One dropped edge: the first (shortest) cycle it broke, edge by edge, and all it broke.

    ``broke`` lists the broken cycles as node sequences (up to :data:`CYCLES_LISTED`), ``closes``
    how many cycles of the enumerated sample run through the edge.
    """

    edges: tuple[CycleEdge, ...]
    dropped: tuple[str, str]
    platforms: tuple[str, ...] = ()
    broke: tuple[tuple[str, ...], ...] = ()
    closes: int = 1

    def describe(self) -> str:
        """``a --build: cmake--> b --run: a--> a`` followed by what was dropped."""
        parts = [self.edges[0].source]
        for e in self.edges:
            parts.append(f" --{e.phase}: {e.spec}--> {e.target}")
        where = f" [{', '.join(self.platforms)}]" if self.platforms else ""
        more = f" (and {self.closes - 1} more cycle(s))" if self.closes > 1 else ""
        return "".join(parts) + where + more


class CycleError(StackplanError):
    """Raised under ``--strict-cycles``: the graph has cycles; each is printed in full."""

    def __init__(self, cycles: list[Cycle]) -> None:
        self.cycles = cycles
        lines = "\n".join(f"  {c.describe()}" for c in cycles)
        super().__init__(f"{len(cycles)} dependency cycle(s):\n{lines}")


def edge_weight(graph: nx.DiGraph, edge: Pair) -> int:
    """The cost of dropping ``edge``: its phase's weight (an edge without phase counts as host)."""
    return PHASE_WEIGHT.get(graph.edges[edge].get("phase", "host"), PHASE_WEIGHT["host"])


def set_weight(graph: nx.DiGraph, edges: Iterable[Pair]) -> int:
    return sum(edge_weight(graph, e) for e in edges)


def find_cycles(graph: nx.DiGraph) -> list[Cycle]:
    """Every cycle that :func:`break_cycles` would break, without changing ``graph``."""
    return break_cycles(graph.copy())


def break_cycles(graph: nx.DiGraph) -> list[Cycle]:
    """Break every cycle of ``graph`` in place; return one :class:`Cycle` per dropped edge.

    Deterministic: components are visited by their smallest node id, every candidate is computed
    over sorted nodes and edges, and ties are broken by ids, so the same graph loses the same edges.
    """
    if nx.is_directed_acyclic_graph(graph):
        return []  # the usual case, and much cheaper to establish than the components
    out: list[Cycle] = []
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=min):
        sub = component_graph(graph, component)
        cycles = _sample_cycles(sub)
        dropped = minimum_drop(sub, cycles)
        for pair in dropped:
            graph.remove_edge(*pair)
        out.extend(_report(graph, sub, dropped, cycles))
    return out


def component_graph(graph: nx.DiGraph, component: Iterable[str]) -> nx.DiGraph:
    """One strongly connected component as its own graph, nodes and edges in sorted order (the
    order the old greedy method searched it in, so :func:`greedy_drop` of it is that method)."""
    nodes = sorted(component)
    inside = set(nodes)
    sub = nx.DiGraph()
    sub.add_nodes_from(nodes)
    sub.add_edges_from(
        sorted((u, v, graph.edges[u, v]) for u in nodes for v in graph.successors(u) if v in inside)
    )
    return sub


def _sample_cycles(sub: nx.DiGraph) -> list[tuple[str, ...]]:
    """Up to :data:`CYCLE_SAMPLE` simple cycles, each rotated to start at its smallest node, sorted
    by (length, nodes): the same sample whatever order networkx yields them in."""
    found = itertools.islice(nx.simple_cycles(sub), CYCLE_SAMPLE)
    rotated = set()
    for cyc in found:
        i = cyc.index(min(cyc))
        rotated.add(tuple(cyc[i:] + cyc[:i]))
    return sorted(rotated, key=lambda c: (len(c), c))


def _cycle_pairs(cycle: tuple[str, ...]) -> list[Pair]:
    return [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]


def minimum_drop(sub: nx.DiGraph, cycles: list[tuple[str, ...]] | None = None) -> list[Pair]:
    """A light, minimal set of edges whose removal makes ``sub`` acyclic (see the module docstring).

    Sorted by (source, target). ``sub`` is not changed.
    """
    if cycles is None:
        cycles = _sample_cycles(sub)
    candidates = [  # on a tie the first wins: the greedy method's choice stays when nothing is better
        _minimal(sub, greedy_drop(sub)),
        _minimal(sub, _by_cycle_count(sub, cycles)),
        _minimal(sub, _by_ordering(sub)),
    ]
    closes = {}
    for cyc in cycles:
        for pair in _cycle_pairs(cyc):
            closes[pair] = closes.get(pair, 0) + 1
    best = min(
        candidates,
        key=lambda s: (set_weight(sub, s), len(s), -sum(closes.get(p, 0) for p in s)),
    )
    return sorted(best)


def greedy_drop(sub: nx.DiGraph) -> list[Pair]:
    """The old method (kept as a baseline and a candidate): find a cycle, drop its weakest edge
    (test, then run, then build; host last; ties by ids), repeat until acyclic."""
    work = sub.copy()
    nodes = sorted(work)
    dropped = []
    while True:
        try:
            found = nx.find_cycle(work, source=nodes)
        except nx.NetworkXNoCycle:
            return dropped
        pairs = [(u, v) for u, v, *_ in found]
        weakest = max(pairs, key=lambda e: (-edge_weight(work, e), e))  # weakest phase, then largest ids
        work.remove_edge(*weakest)
        dropped.append(weakest)


def _by_cycle_count(sub: nx.DiGraph, cycles: list[tuple[str, ...]]) -> list[Pair]:
    """Drop the edge of least weight that closes the most remaining sampled cycles, repeatedly; then
    whatever cycles the sample missed, the same way on fresh samples."""
    work = sub.copy()
    dropped: list[Pair] = []
    remaining = [set(_cycle_pairs(c)) for c in cycles]
    while True:
        while remaining:
            count: dict[Pair, int] = {}
            for pairs in remaining:
                for p in pairs:
                    count[p] = count.get(p, 0) + 1
            pick = min(count, key=lambda p: (edge_weight(work, p), -count[p], p))
            work.remove_edge(*pick)
            dropped.append(pick)
            remaining = [c for c in remaining if pick not in c]
        if nx.is_directed_acyclic_graph(work):
            return dropped
        remaining = [set(_cycle_pairs(c)) for c in _sample_cycles(work)]


def _by_ordering(sub: nx.DiGraph) -> list[Pair]:
    """Weighted Eades-Lin-Smyth: order the nodes (sinks to the end, sources to the front, else the
    node with the largest out-weight minus in-weight next) and drop the edges pointing backwards."""
    work = sub.copy()
    head: list[str] = []
    tail: list[str] = []
    while work:
        changed = True
        while changed:
            changed = False
            for n in sorted(work):
                if work.out_degree(n) == 0:
                    tail.append(n)
                    work.remove_node(n)
                    changed = True
                elif work.in_degree(n) == 0:
                    head.append(n)
                    work.remove_node(n)
                    changed = True
        if not work:
            break

        def delta(n: str) -> tuple[int, str]:
            out_w = sum(edge_weight(work, (n, v)) for v in work.successors(n))
            in_w = sum(edge_weight(work, (u, n)) for u in work.predecessors(n))
            return (out_w - in_w, n)

        pick = max(sorted(work), key=delta)
        head.append(pick)
        work.remove_node(pick)
    order = {n: i for i, n in enumerate(head + list(reversed(tail)))}
    return sorted((u, v) for u, v in sub.edges if order[u] >= order[v])


def _minimal(sub: nx.DiGraph, dropped: list[Pair]) -> list[Pair]:
    """Put back every dropped edge that closes no cycle, strongest first (then by ids)."""
    work = sub.copy()
    work.remove_edges_from(dropped)
    kept = []
    for pair in sorted(dropped, key=lambda p: (-edge_weight(sub, p), p)):
        u, v = pair
        if nx.has_path(work, v, u):
            kept.append(pair)
        else:
            work.add_edge(u, v, **sub.edges[pair])
    return sorted(kept)


def _report(graph: nx.DiGraph, sub: nx.DiGraph, dropped: list[Pair], cycles) -> list[Cycle]:
    """One :class:`Cycle` per dropped edge: the sampled cycles through it (shortest first); an edge
    no sampled cycle runs through gets the shortest cycle it closes in the component."""
    out = []
    for pair in dropped:
        through = [c for c in cycles if pair in set(_cycle_pairs(c))]
        if not through:
            path = nx.shortest_path(sub, pair[1], pair[0])
            through = [(pair[0], *path[:-1])]
        first = through[0]
        edges = tuple(
            CycleEdge(u, v, sub.edges[u, v].get("phase", ""), sub.edges[u, v].get("spec", ""))
            for u, v in _cycle_pairs(first)
        )
        # the edge that was dropped first in the printed cycle: rotate so the cycle ends with it
        i = next(k for k, e in enumerate(edges) if (e.source, e.target) == pair)
        edges = edges[i + 1 :] + edges[: i + 1]
        nodes = {n for c in through for n in c}
        platforms = sorted({graph.nodes[n]["job"].platform for n in nodes if "job" in graph.nodes[n]})
        out.append(Cycle(edges, pair, tuple(platforms), tuple(through[:CYCLES_LISTED]), len(through)))
    return out
