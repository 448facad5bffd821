"""Why is a job in the plan, and what does it wait for: ``stackplan explain JOB``.

The answer is read from the plan alone: the job's reason, the chain of plan edges that leads to it
from the nearest job selected for its own sake (changed, explicit, config-change), its direct waits
(with phase, spec and the unselected jobs the order was carried through) and its dependents.

>>> from planner.plan.model import Plan, PlanEdge, PlanNode, Reason, OutputRef, SelectKind
>>> def n(i, kind): return PlanNode(i, "r/" + i, "v0", "linux-64", "linux-64", {}, (OutputRef(i, "1", 0),),
...                                  Reason(kind))
>>> plan = Plan("r", ("linux-64",), (n("a", SelectKind.CHANGED), n("b", SelectKind.DOWNSTREAM)),
...             (PlanEdge("a", "b", "host", "a >=1"),), {"linux-64": (("a",), ("b",))})
>>> [step.job for step in explain(plan, "b")[0].path]
['a', 'b']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from planner.matchspec import ensure_valid_spec
from planner.plan.model import Plan, PlanEdge, PlanNode, PlanWarning, SelectKind

#: A job selected for its own sake: the chain of waits explained ends there.
SEED_KINDS = frozenset({SelectKind.CHANGED, SelectKind.EXPLICIT, SelectKind.CONFIG_CHANGE, SelectKind.ALL})


@dataclass(frozen=True)
class Step:
    job: str
    edge: PlanEdge | None  # the edge that led here from the previous step (None for the first)


@dataclass(frozen=True)
class Explanation:
    node: PlanNode
    path: tuple[Step, ...]  # from a seed to the job (just the job when it is a seed)
    waits_for: tuple[PlanEdge, ...]
    needed_by: tuple[PlanEdge, ...]
    #: How each wait's requirement was matched: conda-build's rewrite and the output that satisfied it
    #: (``openssl 3`` -> ``openssl 3.*``, satisfied by openssl-3.0.13), by (source, spec).
    matched: Mapping[tuple[str, str], str] = field(default_factory=dict)
    #: Requirements taken from the channel, as (name or spec, why): no provider / no version fits /
    #: ambiguous (several recipes provide it; the one chosen is named).
    from_channel: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        n = self.node
        out = [f"{n.id}", f"  recipe {n.recipe}, platform {n.platform} (built on {n.build_platform})"]
        out.append(
            f"  selected: {n.selected.kind}" + (f" ({n.selected.detail})" if n.selected.detail else "")
        )
        if n.skipped:
            out.append(f"  skipped: {n.skipped.kind} ({n.skipped.detail})")
        else:
            out.append(f"  layer {n.layer}")
        if len(self.path) > 1:
            out.append("  why, from the start of the chain:")
            for step in self.path:
                if step.edge is None:
                    out.append(f"    {step.job}")
                else:
                    via = f" via {', '.join(step.edge.via)}" if step.edge.via else ""
                    out.append(f"    -> {step.job}  ({step.edge.phase}: {step.edge.spec}{via})")
        out.append("  waits for:" + ("" if self.waits_for else " nothing"))
        for e in self.waits_for:
            via = f" via {', '.join(e.via)}" if e.via else ""
            how = self.matched.get((e.source, e.spec))
            out.append(f"    {e.source}  ({e.phase}: {how or e.spec}{via})")
        if self.from_channel:
            out.append("  taken from the channel:")
            for what, why in self.from_channel:
                out.append(f"    {what}  ({why})")
        out.append("  needed by:" + ("" if self.needed_by else " nothing in this plan"))
        for e in self.needed_by:
            out.append(f"    {e.target}  ({e.phase}: {e.spec})")
        return out


def find_jobs(plan: Plan, query: str) -> list[PlanNode]:
    """Nodes matching ``query``: an exact id, else an id prefix, an output name or a recipe dir."""
    exact = [n for n in plan.nodes if n.id == query]
    if exact:
        return exact
    hits = [
        n
        for n in plan.nodes
        if n.id.startswith(query) or query in {o.name for o in n.outputs} or n.recipe == query
    ]
    return sorted(hits, key=lambda n: n.id)


def explain(plan: Plan, query: str) -> list[Explanation]:
    """An :class:`Explanation` per job matching ``query`` (empty when none does)."""
    incoming: dict[str, list[PlanEdge]] = {}
    outgoing: dict[str, list[PlanEdge]] = {}
    for e in sorted(plan.edges, key=lambda e: (e.source, e.target)):
        incoming.setdefault(e.target, []).append(e)
        outgoing.setdefault(e.source, []).append(e)
    by_id = {n.id: n for n in plan.nodes}
    ambiguous = {w.spec: w.detail for w in plan.warnings if w.kind == "ambiguous"}
    result = []
    for node in find_jobs(plan, query):
        waits = tuple(incoming.get(node.id, ()))
        result.append(
            Explanation(
                node=node,
                path=_path_from_seed(node.id, by_id, incoming),
                waits_for=waits,
                needed_by=tuple(outgoing.get(node.id, ())),
                matched={(e.source, e.spec): _matched(node, e, by_id, ambiguous) for e in waits},
                from_channel=_from_channel(node, plan.warnings),
            )
        )
    return result


def _matched(
    node: PlanNode, edge: PlanEdge, by_id: Mapping[str, PlanNode], ambiguous: Mapping[str, str]
) -> str:
    """```openssl 3` -> `openssl 3.*`, satisfied by openssl-3.0.13`` (the rewrite only for meta.yaml:
    conda-build fuzzes a bare version, rattler-build matches recipe.yaml specs as written); an
    ambiguous name says which recipes provide it and which one was chosen."""
    spec = edge.spec.split(" (", 1)[0]  # noarch run edges carry "(run requirement of X)"
    name = spec.split()[0] if spec.split() else spec
    source = by_id.get(edge.source)
    outputs = [o for o in source.outputs if o.name == name] if source else []
    by = f"satisfied by {outputs[0].name}-{outputs[0].version}" if outputs else f"satisfied by {edge.source}"
    if name in ambiguous:
        by += f"; ambiguous: {ambiguous[name]}"
    fuzzed = ensure_valid_spec(spec) if node.format == "v0" else spec
    if fuzzed != spec:
        return f"`{spec}` -> `{fuzzed}`, {by}"
    return f"{edge.spec}, {by}"


def _from_channel(node: PlanNode, warnings: tuple[PlanWarning, ...]) -> tuple[tuple[str, str], ...]:
    """Why each requirement of ``node`` comes from the channel, read from the plan's warnings."""
    out: dict[str, tuple[str, str]] = {}
    for w in warnings:
        if w.job == node.id and w.kind in ("unsatisfied", "pin-broken"):
            name = w.spec.split()[0] if w.spec.split() else w.spec
            why = "no version fits" + (f": {', '.join(w.related)} changed" if w.kind == "pin-broken" else "")
            out[name] = (w.spec, f"{why}: recipes build it, not a matching version or variant")
    for name in node.from_channel:
        out.setdefault(name, (name, "no provider: no recipe in the tree builds it"))
    return tuple(out[k] for k in sorted(out))


def _path_from_seed(job: str, by_id, incoming) -> tuple[Step, ...]:
    """Shortest chain of plan edges from a job selected for itself to ``job`` (backwards BFS)."""
    if by_id[job].selected.kind in SEED_KINDS:
        return (Step(job, None),)
    parent: dict[str, PlanEdge | None] = {job: None}
    queue = deque([job])
    while queue:
        cur = queue.popleft()
        if by_id[cur].selected.kind in SEED_KINDS:
            steps = [Step(cur, None)]
            while (edge := parent[cur]) is not None:
                steps.append(Step(edge.target, edge))
                cur = edge.target
            return tuple(steps)
        for e in incoming.get(cur, ()):
            if e.source not in parent:
                parent[e.source] = e
                queue.append(e.source)
    return (Step(job, None),)
