"""What changed between two plans: jobs added, removed, rebuilt as another version, moved between layers.

What a reviewer wants when a PR moves a pin: the plan of the base and the plan of the head side by side,
by job. A job is matched across the two plans by what it *is* (recipe dir, target platform, lane and
variant), not by its id, since a version bump changes the id (``zlib-1.3.1-0@...`` becomes
``zlib-1.3.2-0@...``) while it is still the same job, rebuilt.

>>> from planner.plan.model import OutputRef, Plan, PlanNode, Reason, SelectKind
>>> def job(v, layer):
...     return PlanNode(id=f"z-{v}-0@linux-64", recipe="r/z", format="v0", platform="linux-64",
...                     build_platform="linux-64", variant={}, outputs=(OutputRef("z", v, 0),),
...                     selected=Reason(SelectKind.ALL), layer=layer)
>>> a = Plan(root="r", platforms=("linux-64",), nodes=(job("1.0", 0),), edges=(), layers={})
>>> b = Plan(root="r", platforms=("linux-64",), nodes=(job("1.1", 2),), edges=(), layers={})
>>> [(c.kind, c.before, c.after) for c in diff_plans(a, b).changes]
[('moved', 'z-1.0-0 (layer 0)', 'z-1.1-0 (layer 2)')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.plan.model import Plan, PlanNode

#: The kinds of change, in the order they are listed.
KINDS = ("added", "removed", "moved", "rebuilt", "skipped", "unskipped")


def job_key(node: PlanNode) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    """What a job is, across plans: recipe dir, target platform, lane and variant."""
    return (
        node.recipe,
        node.platform,
        node.lane,
        tuple(sorted((k, str(v)) for k, v in node.variant.items())),
    )


def _short(node: PlanNode) -> str:
    return node.id.split("@", 1)[0]


@dataclass(frozen=True)
class JobChange:
    """One job's change: ``kind`` (see :data:`KINDS`), its lane, and what it was and is."""

    kind: str
    lane: str
    recipe: str
    before: str = ""
    after: str = ""
    variant: str = ""


@dataclass(frozen=True)
class PlanDiff:
    """The changes from plan A to plan B, sorted by kind, lane, recipe."""

    a: str
    b: str
    changes: tuple[JobChange, ...] = field(default_factory=tuple)
    makespan: dict[str, tuple[float, float]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in KINDS}
        for c in self.changes:
            out[c.kind] += 1
        return {k: v for k, v in out.items() if v}

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "counts": self.counts(),
            "makespan": {p: list(v) for p, v in sorted(self.makespan.items())},
            "changes": [c.__dict__ for c in self.changes],
        }


def diff_plans(a: Plan, b: Plan) -> PlanDiff:
    """Jobs added, removed, moved (another layer), rebuilt (another version or build, same layer), newly
    skipped or no longer skipped, from plan ``a`` to plan ``b``."""
    before = {job_key(n): n for n in a.nodes}
    after = {job_key(n): n for n in b.nodes}
    changes: list[JobChange] = []

    def variant(key) -> str:
        return ",".join(f"{k}={v}" for k, v in key[3] if k != "target_platform")

    for key in sorted(set(before) | set(after)):
        x, y = before.get(key), after.get(key)
        if x is None and y is not None:
            changes.append(
                JobChange("added", y.lane, y.recipe, "", f"{_short(y)} (layer {y.layer})", variant(key))
            )
        elif y is None and x is not None:
            changes.append(
                JobChange("removed", x.lane, x.recipe, f"{_short(x)} (layer {x.layer})", "", variant(key))
            )
        elif x is not None and y is not None:
            if bool(x.skipped) != bool(y.skipped):
                kind = "skipped" if y.skipped else "unskipped"
                why = f"{y.skipped.kind}: {y.skipped.detail}" if y.skipped else ""
                changes.append(JobChange(kind, y.lane, y.recipe, _short(x), why or _short(y), variant(key)))
            elif x.layer != y.layer:
                changes.append(
                    JobChange(
                        "moved",
                        y.lane,
                        y.recipe,
                        f"{_short(x)} (layer {x.layer})",
                        f"{_short(y)} (layer {y.layer})",
                        variant(key),
                    )
                )
            elif x.id != y.id:
                changes.append(JobChange("rebuilt", y.lane, y.recipe, _short(x), _short(y), variant(key)))
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: (order[c.kind], c.lane, c.recipe, c.variant))
    lanes = sorted(set(a.makespan) | set(b.makespan))
    makespan = {p: (a.makespan.get(p, 0.0), b.makespan.get(p, 0.0)) for p in lanes}
    return PlanDiff(a.hash[:12], b.hash[:12], tuple(changes), makespan)
