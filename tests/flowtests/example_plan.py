"""The plan of examples/stack for linux-64 and osx-arm64, written out as plan data.

It is input data for the flow tests (what the planner produces for that stack: five jobs per
platform, the noarch sp-docs in the linux-64 lane, sp-linux-extra only on linux). Tests that have the
planner use :func:`planned_example` instead, which plans the directory for real.
"""

from __future__ import annotations

from pathlib import Path

from planner.plan.model import OutputRef, Plan, PlanEdge, PlanNode, Reason, SelectKind

_RECIPES = {
    # recipe: (outputs, layer, noarch, linux only)
    "sp-base": (("sp-base",), 0, False, False),
    "sp-docs": (("sp-docs",), 0, True, False),
    "sp-linux-extra": (("sp-linux-extra",), 0, False, True),
    "sp-core": (("sp-core",), 1, False, False),
    "sp-tools": (("sp-tools-lib", "sp-tools-cli"), 2, False, False),
    "sp-app": (("sp-app",), 3, False, False),
}
_EDGES = [
    ("sp-base", "sp-core"),
    ("sp-core", "sp-tools"),
    ("sp-tools", "sp-app"),
    ("sp-docs", "sp-app"),
    ("sp-linux-extra", "sp-app"),
]


def job_id(recipe: str, platform: str) -> str:
    if _RECIPES[recipe][2]:
        platform = "noarch"
    return f"{recipe}-1.0.0-0@{platform}"


def example_plan(root: Path, platforms: tuple[str, ...] = ("linux-64", "osx-arm64")) -> Plan:
    nodes: dict[str, PlanNode] = {}
    for platform in platforms:
        for recipe, (outputs, layer, noarch, linux_only) in _RECIPES.items():
            if linux_only and not platform.startswith("linux"):
                continue
            if noarch and platform != platforms[0]:
                continue
            jid = job_id(recipe, platform)
            nodes[jid] = PlanNode(
                id=jid,
                recipe=recipe,
                format="v1",
                platform="noarch" if noarch else platform,
                build_platform=platform,
                variant={},
                outputs=tuple(OutputRef(o, "1.0.0", 0, "generic" if noarch else None) for o in outputs),
                selected=Reason(SelectKind.ALL),
                layer=layer,
                duration_estimate=1.0,
                pool=platform,
                test_pool=platform,
            )
    edges = []
    for platform in platforms:
        for src, dst in _EDGES:
            s, d = job_id(src, platform), job_id(dst, platform)
            if s in nodes and d in nodes:
                edges.append(PlanEdge(s, d, "host", src))
    layers = {}
    for platform in platforms:
        lane = [n for n in nodes.values() if n.build_platform == platform]
        depth = max(n.layer for n in lane) + 1
        layers[platform] = tuple(tuple(sorted(n.id for n in lane if n.layer == i)) for i in range(depth))
    return Plan(
        root=str(root), platforms=platforms, nodes=tuple(nodes.values()), edges=tuple(edges), layers=layers
    ).with_hash()
