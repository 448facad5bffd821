"""Selection: which jobs of the graph go into the plan, why, which of them are skipped, and the order
between them carried through everything left out.

Seeds come from changed recipes (git), changed variant-config keys, or ``--package`` names; no seed
flag at all selects every job. ``--downstream[=DEPTH]`` adds dependents (the stack rebuild),
``--upstream`` adds ancestors (only those missing from the channel when one is given). ``--exclude`` /
the skiplist / ``--skip-existing`` keep a job in the plan but mark it skipped, with the reason.

Order is never lost: :func:`carry_edges` links two jobs that will be built whenever a path joins them
through jobs that will not (A -> B -> C with B unselected or skipped gives A -> C via B).

>>> import networkx as nx
>>> from planner.plan.model import Reason
>>> g = nx.DiGraph([("A", "B"), ("B", "C")])
>>> nx.set_edge_attributes(g, "host", "phase"); nx.set_edge_attributes(g, "x", "spec")
>>> [(e.source, e.target, e.via) for e in carry_edges(g, {"A", "C"})]
[('A', 'C', ('B',))]
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from planner.plan.model import PlanEdge, Reason, SelectKind, SkipKind

#: --downstream with no depth.
UNLIMITED = -1
#: Precedence when several reasons select one job: the first wins.
_PRECEDENCE = (
    SelectKind.CHANGED,
    SelectKind.CONFIG_CHANGE,
    SelectKind.EXPLICIT,
    SelectKind.DOWNSTREAM,
    SelectKind.UPSTREAM,
    SelectKind.ALL,
)


@dataclass(frozen=True)
class Selection:
    """What to select; the plan request's selection flags after git and config files were read."""

    changed: Mapping[str, str] = field(default_factory=dict)  # recipe rel -> detail (changed files)
    changed_keys: Mapping[str, str] = field(default_factory=dict)  # variant key -> detail (config file)
    packages: tuple[str, ...] = ()  # output names or recipe dirs
    downstream: int | None = None  # None: off; UNLIMITED: every dependent; n: up to n edges away
    upstream: bool = False
    exclude: tuple[str, ...] = ()  # names, recipe dirs or fnmatch patterns
    skiplist: tuple[str, ...] = ()
    #: (name, version, build_number, subdir[, build string]) of what the channels hold
    #: (:mod:`planner.inputs.channel_index` gives the build string; see :class:`ChannelHolds`)
    existing: frozenset[tuple] | None = None
    channel: str = ""  # where ``existing`` came from (for messages)
    seeded: bool = False  # a seed flag was given (e.g. --changed) even if it found nothing

    @property
    def has_seeds(self) -> bool:
        return self.seeded or bool(self.changed or self.changed_keys or self.packages)


@dataclass
class SelectionResult:
    selected: dict[str, Reason]
    skipped: dict[str, Reason]
    unknown_packages: list[str] = field(default_factory=list)

    @property
    def active(self) -> set[str]:
        """Jobs that will be built: selected and not skipped."""
        return {j for j in self.selected if j not in self.skipped}


def _job(graph: nx.DiGraph, node: str):
    return graph.nodes[node]["job"]


def _matches(job, patterns: Iterable[str]) -> str | None:
    """The first pattern naming the job (an output name, the recipe dir or its last part)."""
    if not patterns:
        return None
    names = [*sorted(job.names), job.recipe, job.recipe.rsplit("/", 1)[-1]]
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(n, pattern) for n in names):
            return pattern
    return None


def _better(current: Reason | None, new: Reason) -> bool:
    return current is None or _PRECEDENCE.index(new.kind) < _PRECEDENCE.index(current.kind)


def _keys(job) -> list[tuple[str, str, int, str]]:
    return [(o.name, o.version, o.build_number, "noarch" if o.noarch else job.platform) for o in job.outputs]


class ChannelHolds:
    """Whether a job's outputs are all in the channels already (``--skip-existing``).

    A package is (name, version, build number, subdir) and, when the channel says it (repodata always
    does), its build string. Variants of one recipe share the first four (``pysam-0.22-0`` for python
    3.11 and 3.12) and differ in the build string (``py311h…_0``, ``py312h…_0``), so an output whose
    build string the render knows (conda-build's, :mod:`planner.render.v0.build_string`) must match
    it, as conda-build's own ``--skip-existing`` matches the file name; one whose string is not known
    (a rattler-build recipe without ``build.string``) matches by the four alone only when no other job
    of the graph makes the same four, else it is built (a variant must not be skipped because another
    one exists). Entries without a build string (a hand-made set) match by the four, as before.

    >>> from types import SimpleNamespace as NS
    >>> out = NS(name="pysam", version="0.22", build_number=0, noarch=None, build_string="py312h1_0")
    >>> job = NS(platform="linux-64", outputs=(out,))
    >>> ChannelHolds({("pysam", "0.22", 0, "linux-64", "py311h9_0")}, [job]).holds(job)
    False
    >>> ChannelHolds({("pysam", "0.22", 0, "linux-64", "py312h1_0")}, [job]).holds(job)
    True
    """

    def __init__(self, existing: frozenset[tuple] | set[tuple], jobs) -> None:
        self.builds = {e for e in existing if len(e) == 5}
        self.keys = {e[:4] for e in existing}
        self.known = {e[:4] for e in self.builds}  # packages whose builds the channel lists
        seen: set[tuple] = set()
        self.shared: set[tuple] = set()  # made by more than one job (variants)
        for job in jobs:
            for key in _keys(job):
                (self.shared if key in seen else seen).add(key)

    def holds(self, job) -> bool:
        if not job.outputs:
            return False
        for out, key in zip(job.outputs, _keys(job), strict=True):
            if key not in self.keys:
                return False
            if key in self.known:
                if out.build_string:
                    if (*key, out.build_string) not in self.builds:
                        return False
                elif key in self.shared:
                    return False
        return True


def select(graph: nx.DiGraph, selection: Selection) -> SelectionResult:
    """Apply a selection to the (acyclic) job graph."""
    selected: dict[str, Reason] = {}

    def mark(node: str, reason: Reason) -> None:
        if _better(selected.get(node), reason):
            selected[node] = reason

    nodes = sorted(graph.nodes)
    seeds: list[str] = []
    unknown = []
    if not selection.has_seeds:
        for node in nodes:
            if not _job(graph, node).skip:
                mark(node, Reason(SelectKind.ALL, "no selection given: every recipe"))
    else:
        for node in nodes:
            job = _job(graph, node)
            if job.recipe in selection.changed:
                mark(node, Reason(SelectKind.CHANGED, selection.changed[job.recipe]))
            keys = sorted(k for k in job.variant if k in selection.changed_keys)
            if keys:
                detail = "; ".join(f"{k}: {selection.changed_keys[k]}" for k in keys)
                mark(node, Reason(SelectKind.CONFIG_CHANGE, detail))
            hit = _matches(job, selection.packages)
            if hit is not None:
                mark(node, Reason(SelectKind.EXPLICIT, f"--package {hit}"))
        for name in selection.packages:
            if not any(_matches(_job(graph, n), [name]) for n in nodes):
                unknown.append(name)
        seeds = sorted(selected)
    if selection.downstream is not None and seeds:
        for node, (parent, depth) in _bfs(graph, seeds, graph.successors, selection.downstream).items():
            steps = f"{depth} step{'s' if depth > 1 else ''}"
            mark(node, Reason(SelectKind.DOWNSTREAM, f"depends on {parent} ({steps})"))
    holds = None
    if selection.existing is not None:
        holds = ChannelHolds(selection.existing, (_job(graph, n) for n in nodes)).holds
    if selection.upstream and seeds:

        def present(node: str) -> bool:  # in the channel already: neither it nor its ancestors are needed
            job = _job(graph, node)
            return job.skip or (holds is not None and holds(job))

        for node, (child, depth) in _bfs(graph, seeds, graph.predecessors, UNLIMITED, present).items():
            steps = f"{depth} step{'s' if depth > 1 else ''}"
            mark(node, Reason(SelectKind.UPSTREAM, f"needed by {child} ({steps})"))
    skipped: dict[str, Reason] = {}
    for node in sorted(selected):
        job = _job(graph, node)
        if job.skip:
            skipped[node] = Reason(SkipKind.RENDER_SKIP, f"skipped on {job.platform} by the recipe")
        elif (hit := _matches(job, selection.exclude)) is not None:
            skipped[node] = Reason(SkipKind.EXCLUDED, f"--exclude {hit}")
        elif (hit := _matches(job, selection.skiplist)) is not None:
            skipped[node] = Reason(SkipKind.SKIPLIST, f"skiplist entry {hit}")
        elif holds is not None and holds(job):
            where = f" in {selection.channel}" if selection.channel else ""
            skipped[node] = Reason(SkipKind.EXISTS, f"all outputs already{where}")
    return SelectionResult(selected=dict(sorted(selected.items())), skipped=skipped, unknown_packages=unknown)


def _bfs(graph: nx.DiGraph, seeds: list[str], step, depth: int, stop=None) -> dict[str, tuple[str, int]]:
    """Nodes reachable from ``seeds`` (not the seeds) -> (the node that reached them, distance).

    ``stop(node)`` true: the node is neither returned nor walked through."""
    found: dict[str, tuple[str, int]] = {}
    seen = set(seeds)
    queue = deque((s, 0) for s in seeds)
    while queue:
        node, dist = queue.popleft()
        if depth != UNLIMITED and dist >= depth:
            continue
        for nxt in sorted(step(node)):
            if nxt not in seen:
                seen.add(nxt)
                if stop is not None and stop(nxt):
                    continue
                found[nxt] = (node, dist + 1)
                queue.append((nxt, dist + 1))
    return found


def carry_edges(graph: nx.DiGraph, active: set[str]) -> list[PlanEdge]:
    """Edges between active jobs, carried through inactive ones (``via``), sorted.

    From each active job a breadth-first walk goes forward through inactive jobs only and stops at
    the first active job on each path, so an edge is kept once, by its shortest carrier (a direct
    edge always wins). The phase and spec are those of the last hop (what the target needs).
    """
    edges: list[PlanEdge] = []
    succ = graph.succ
    for source in sorted(active):
        direct = sorted(succ[source])
        hidden = [n for n in direct if n not in active]
        for target in direct:
            if target in active:
                attrs = succ[source][target]
                edges.append(PlanEdge(source, target, attrs.get("phase", "host"), attrs.get("spec", "")))
        if not hidden:
            continue  # the common case (everything selected): no walk needed
        parents: dict[str, str | None] = {source: None}
        parents.update((n, None) for n in direct if n in active)
        parents.update((n, source) for n in hidden)
        queue = deque(hidden)
        while queue:
            node = queue.popleft()
            for nxt in sorted(succ[node]):
                if nxt in parents:
                    continue
                parents[nxt] = node
                if nxt in active:
                    via = []
                    back = node
                    while back != source:
                        via.append(back)
                        back = parents[back]  # type: ignore[assignment]
                    attrs = succ[node][nxt]
                    phase, spec = attrs.get("phase", "host"), attrs.get("spec", "")
                    edges.append(PlanEdge(source, nxt, phase, spec, tuple(reversed(via))))
                else:
                    queue.append(nxt)
    return sorted(edges, key=lambda e: (e.source, e.target))
