"""The examples plan as documented: the mixed v0/v1 stack has edges across formats and lanes, and the
build stack has the shapes the demo relies on (layers, multi-output, noarch, a linux-only dependency)."""

from __future__ import annotations

from pathlib import Path

from flows.run.lanes import split_lanes
from planner.plan.build import PlanRequest, build_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _by_recipe(plan, platform):
    return {n.recipe: n for n in plan.nodes if n.skipped is None and n.build_platform == platform}


def test_mixed_stack_plans_across_formats():
    plan = build_plan(PlanRequest(root=EXAMPLES / "mixed", platforms=("linux-64", "win-64")))
    assert not plan.errors
    linux = _by_recipe(plan, "linux-64")
    assert {n.format for n in linux.values()} == {"v0", "v1"}
    fmt = {n.id: n.format for n in plan.nodes}
    assert {(fmt[e.source], fmt[e.target]) for e in plan.edges} >= {("v0", "v1"), ("v1", "v0")}
    assert linux["mx-pyfoo"].platform == "noarch"
    lanes = {ln.platform: ln for ln in split_lanes(plan)}
    assert lanes["win-64"].needs_lanes == ("linux-64",)  # win's mx-cli needs the noarch mx-pyfoo
    order = list(lanes["linux-64"].job_ids)
    assert [n.split("-")[1] for n in order] == ["zlib", "libfoo", "pyfoo", "cli"]


def test_build_stack_has_the_demo_shapes():
    plan = build_plan(PlanRequest(root=EXAMPLES / "stack"))
    linux, osx = _by_recipe(plan, "linux-64"), _by_recipe(plan, "osx-arm64")
    assert {o.name for o in linux["sp-tools"].outputs} == {"sp-tools-lib", "sp-tools-cli"}
    assert linux["sp-docs"].platform == "noarch" and "sp-docs" not in osx
    assert "sp-linux-extra" in linux and "sp-linux-extra" not in osx
    ids = {n.id: n.recipe for n in plan.nodes}
    into_app = {(ids[e.source]) for e in plan.edges if e.target == linux["sp-app"].id}
    assert into_app == {"sp-tools", "sp-docs", "sp-linux-extra"}
    assert len(plan.layers["linux-64"]) == 4
