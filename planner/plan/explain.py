"""Why is a job in the plan, and what does it wait for: ``stackplan explain JOB``.

The answer is read from the plan alone: the job's reason, the chain of plan edges that leads to it
from the nearest job selected for its own sake (changed, explicit, config-change), its direct waits
(with phase, spec and the unselected jobs the order was carried through) and its dependents.

>>> from planner.plan.model import Plan, PlanEdge, PlanNode, Reason, OutputRef
>>> def n(i, kind): return PlanNode(i, "r/" + i, "v0", "linux-64", "linux-64", {}, (OutputRef(i, "1", 0),),
...                                  Reason(kind))
>>> plan = Plan("r", ("linux-64",), (n("a", "changed"), n("b", "downstream")),
...             (PlanEdge("a", "b", "host", "a >=1"),), {"linux-64": (("a",), ("b",))})
>>> [step.job for step in explain(plan, "b")[0].path]
['a', 'b']
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from planner.plan.model import Plan, PlanEdge, PlanNode

SEED_KINDS = ("changed", "explicit", "config-change", "all")


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
            out.append(f"    {e.source}  ({e.phase}: {e.spec}{via})")
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
    result = []
    for node in find_jobs(plan, query):
        result.append(
            Explanation(
                node=node,
                path=_path_from_seed(node.id, by_id, incoming),
                waits_for=tuple(incoming.get(node.id, ())),
                needed_by=tuple(outgoing.get(node.id, ())),
            )
        )
    return result


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
