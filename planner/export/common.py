"""Small helpers the exporters share: short labels, colours per selection reason, the plan as a graph."""

from __future__ import annotations

import networkx as nx

from planner.plan.model import Plan, PlanNode, SelectKind

#: Fill colour per why-selected kind (and one for skipped jobs); colour-blind friendly (Okabe-Ito).
COLOURS: dict[str, str] = {
    SelectKind.CHANGED: "#E69F00",
    SelectKind.CONFIG_CHANGE: "#CC79A7",
    SelectKind.EXPLICIT: "#56B4E9",
    SelectKind.DOWNSTREAM: "#009E73",
    SelectKind.UPSTREAM: "#F0E442",
    SelectKind.ALL: "#BBBBBB",
    "skipped": "#EEEEEE",
}


def label(node: PlanNode) -> str:
    """``name-version-build`` plus the variant values, without the platform/hash suffix; a job whose
    target is not its lane's platform (cross-compiled) says what it is built for: ``app-1.0-0 →
    linux-aarch64``."""
    head = node.id.split("@", 1)[0]
    if node.platform not in ("noarch", node.lane):
        head = f"{head} → {node.platform}"
    variant = ",".join(f"{k}={v}" for k, v in sorted(node.variant.items()) if k != "target_platform")
    return f"{head} [{variant}]" if variant else head


def colour(node: PlanNode) -> str:
    return COLOURS["skipped"] if node.skipped else COLOURS.get(node.selected.kind, "#BBBBBB")


def plan_graph(plan: Plan) -> nx.DiGraph:
    """The plan as a networkx DiGraph with scalar attributes (for GraphML and analysis)."""
    g = nx.DiGraph()
    for n in sorted(plan.nodes, key=lambda n: n.id):
        g.add_node(
            n.id,
            label=label(n),
            recipe=n.recipe,
            platform=n.platform,
            build_platform=n.build_platform,
            layer=n.layer,
            selected=n.selected.kind.value,  # GraphML types attributes by their exact type: a plain str
            selected_detail=n.selected.detail,
            skipped=n.skipped.kind.value if n.skipped else "",
            skipped_detail=n.skipped.detail if n.skipped else "",
            outputs=" ".join(f"{o.name}={o.version}" for o in n.outputs),
            pool=n.pool,
            test_pool=n.test_pool,
        )
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        g.add_edge(e.source, e.target, phase=e.phase, spec=e.spec, via=" ".join(e.via), bootstrap=False)
    return g


def timed(plan: Plan) -> bool:
    """Whether the plan's durations are real seconds (a durations file or learned history) rather than
    the default of one unit per job."""
    return any(n.duration_estimate != 1.0 for n in plan.nodes)


def makespan_text(plan: Plan, platform: str) -> str:
    """A lane's makespan with its unit: ``42 min`` with real durations, else ``7 jobs`` (the longest
    chain of jobs, each counted as one).

    >>> from planner.plan.model import Plan
    >>> makespan_text(Plan(root="r", platforms=("linux-64",), nodes=(), edges=(), layers={},
    ...                    makespan={"linux-64": 3.0}), "linux-64")
    '3 jobs'
    """
    span = plan.makespan.get(platform, 0.0)
    if timed(plan):
        return f"{span / 60:.1f} min" if span < 600 else f"{span / 60:.0f} min"
    return f"{span:g} job" + ("" if span == 1 else "s")


#: Short names of common variant keys in labels.
SHORT_KEYS = {"python": "py", "numpy": "np", "cuda_compiler_version": "cuda"}


def short_labels(plan: Plan) -> dict[str, str]:
    """Per job a short label: ``name-version`` and only the variant keys that differ among the jobs
    of its recipe on its lane (``pillow-10.3 py=3.12``), not the full variant: a graph stays readable
    and the distinguishing key is never cut off. A cross-compiled job says its target."""
    groups: dict[tuple[str, str], list[PlanNode]] = {}
    for n in plan.nodes:
        groups.setdefault((n.recipe, n.lane), []).append(n)
    out: dict[str, str] = {}
    for nodes in groups.values():
        keys = sorted(
            k
            for k in {k for n in nodes for k in n.variant if k != "target_platform"}
            if len({n.variant.get(k) for n in nodes}) > 1
        )
        for n in nodes:
            head = f"{n.outputs[0].name}-{n.outputs[0].version}" if n.outputs else n.id.split("@", 1)[0]
            if n.platform not in ("noarch", n.lane):
                head = f"{head} → {n.platform}"
            variant = " ".join(f"{SHORT_KEYS.get(k, k)}={n.variant.get(k, '-')}" for k in keys)
            out[n.id] = f"{head} {variant}" if variant else head
    return out
