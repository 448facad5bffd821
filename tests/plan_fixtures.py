"""A small complete plan for export tests: two platforms, variants, noarch, skips, a cycle, via edges."""

from __future__ import annotations

from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.model import OutputRef, Plan, PlanNode, Reason, SelectKind
from planner.plan.select import UNLIMITED, Selection
from tests.recipes_factory import as_renders, out, recipe

PLATFORMS = ("linux-64", "osx-arm64")


def sample_plan() -> Plan:
    rs = []
    for p in PLATFORMS:
        for py in ("3.11", "3.12"):
            v = {"python": py}
            rs.append(recipe("recipes/numpy", [out("numpy", "1.26.4", host=("python",))], p, v))
            rs.append(recipe("recipes/scipy", [out("scipy", "1.14", host=("numpy >=1.22",))], p, v))
            rs.append(recipe("recipes/sk<learn>", [out("sklearn", "1.5", host=("scipy",))], p, v))
        rs.append(recipe("recipes/pure", [out("pure", "0.1", run=("sklearn",), noarch="python")], p))
        rs.append(recipe("recipes/cmake", [out("cmake", "3.30", build=("ninja",), host=("numpy",))], p))
        rs.append(recipe("recipes/ninja", [out("ninja", "1.12", build=("cmake",))], p))
    existing = frozenset({("scipy", "1.14", 0, "linux-64")})
    selection = Selection(changed={"recipes/numpy": "meta.yaml"}, downstream=UNLIMITED, existing=existing)
    plan, _ = assemble_plan(as_renders(rs), selection, PlanSettings(root="stack", platforms=PLATFORMS))
    return plan


def plan_node(
    recipe: str,
    platform: str,
    kind: SelectKind = SelectKind.ALL,
    *,
    noarch: bool = False,
    tag: str = "",
    **fields,
) -> PlanNode:
    """One plan job made by hand (for tests of what consumes a plan: comments, flows): output
    ``<name>-1.0-0`` where name is the recipe's last path part, built on ``platform`` (for ``noarch``
    targeting noarch), selected for ``kind``; ``tag`` ends the id (e.g. ``[00000000]``); any other
    :class:`PlanNode` field (``layer``, ``variant``, ``skipped``, ``pool``...) through ``fields``."""
    name = recipe.rsplit("/", 1)[-1]
    target = "noarch" if noarch else platform
    values = {
        "id": f"{name}-1.0-0@{target}{tag}",
        "recipe": recipe,
        "format": "v0",
        "platform": target,
        "build_platform": platform,
        "variant": {},
        "outputs": (OutputRef(name, "1.0", 0, "generic" if noarch else None),),
        "selected": Reason(kind),
    }
    return PlanNode(**{**values, **fields})
