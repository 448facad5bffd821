"""The plan made from rendered recipes: schema-valid, deterministic, with layers, pools and paths."""

from __future__ import annotations

import json

import pytest

from planner.graph.cycles import CycleError
from planner.model import PlatformRender, RecipeError
from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.model import Plan, validate_plan_dict
from planner.plan.select import UNLIMITED, Selection
from tests.recipes_factory import as_renders, out, recipe

PLATFORMS = ("linux-64", "osx-arm64")


def stack():
    rs = []
    for p in PLATFORMS:
        for py in ("3.11", "3.12"):
            v = {"python": py}
            rs.append(recipe("recipes/numpy", [out("numpy", "1.26.4", host=("python",), variant=v)], p, v))
            rs.append(recipe("recipes/scipy", [out("scipy", "1.14", host=("python", "numpy >=1.22"))], p, v))
        rs.append(recipe("recipes/pure", [out("pure", "0.1", run=("scipy",), noarch="python")], p))
        rs.append(recipe("recipes/cmake", [out("cmake", "3.30", build=("ninja",))], p))
        rs.append(recipe("recipes/ninja", [out("ninja", "1.12", build=("cmake",))], p))
        cuda = {"cuda_compiler_version": "12.4"}
        rs.append(recipe("recipes/torch", [out("torch", "2.4", host=("numpy",))], p, cuda))
    return rs


def make(selection=None, renders=None, **settings):
    settings.setdefault("platforms", PLATFORMS)
    plan, _ = assemble_plan(
        renders if renders is not None else as_renders(stack()),
        selection or Selection(),
        PlanSettings(root="recipes-root", **settings),
    )
    return plan


def test_plan_validates_and_round_trips() -> None:
    plan = make()
    data = json.loads(plan.to_json())
    validate_plan_dict(data)
    assert Plan.from_json(plan.to_json()).to_json() == plan.to_json()
    assert data["hash"] == Plan.from_dict(data).compute_hash()


def test_identical_inputs_give_identical_bytes_whatever_the_input_order() -> None:
    a = make()
    b = make(renders=list(reversed(as_renders(list(reversed(stack()))))))
    assert a.to_json() == b.to_json()


def test_every_edge_goes_to_a_later_layer_and_lanes_hold_noarch_on_the_build_platform() -> None:
    plan = make()
    layer = {n.id: n.layer for n in plan.nodes}
    assert all(layer[e.source] < layer[e.target] for e in plan.edges)
    pure = next(n for n in plan.nodes if n.recipe == "recipes/pure")
    assert pure.platform == "noarch" and pure.id in plan.layers["linux-64"][pure.layer]
    for platform, layers in plan.layers.items():
        for i, ids in enumerate(layers):
            assert all(layer[j] == i for j in ids), platform


def test_cycles_become_bootstrap_edges_with_a_warning_or_fail_when_strict() -> None:
    plan = make()
    assert {(e.source.split("-")[0], e.target.split("-")[0]) for e in plan.bootstrap_edges} == {
        ("ninja", "cmake")
    }
    assert any("cycle broken" in str(w) and "--build: cmake-->" in str(w) for w in plan.warnings)
    with pytest.raises(CycleError, match="cmake"):
        make(strict_cycles=True)
    # a cycle outside the selection does not concern this plan
    only_numpy = make(Selection(packages=("numpy",)))
    assert only_numpy.bootstrap_edges == () and not any("cycle" in str(w) for w in only_numpy.warnings)


def test_gpu_jobs_test_on_the_gpu_pool() -> None:
    plan = make()
    torch = [n for n in plan.nodes if n.recipe == "recipes/torch"]
    assert {(n.pool, n.test_pool) for n in torch} == {("linux-64", "gpu"), ("osx-arm64", "gpu")}
    numpy = next(n for n in plan.nodes if n.recipe == "recipes/numpy")
    assert numpy.test_pool == numpy.pool == numpy.platform


def test_critical_path_and_makespan_from_durations() -> None:
    unit = make()
    assert unit.makespan["linux-64"] == 3.0  # numpy -> scipy -> pure
    timed = make(durations={"recipes/numpy": 100.0, "scipy": 50.0, "recipes/torch": 400.0})
    path = timed.critical_path["linux-64"]
    assert [p.split("-")[0] for p in path] == ["numpy", "torch"]
    assert timed.makespan["linux-64"] == 500.0


def test_selection_reasons_skips_and_via_edges_in_the_plan() -> None:
    existing = frozenset({("scipy", "1.14", 0, "linux-64")})
    plan = make(Selection(changed={"recipes/numpy": "meta.yaml"}, downstream=UNLIMITED, existing=existing))
    by_kind = {}
    for n in plan.nodes:
        by_kind.setdefault(n.skipped.kind if n.skipped else n.selected.kind, set()).add(n.recipe)
    assert by_kind["changed"] == {"recipes/numpy"}
    assert by_kind["exists"] == {"recipes/scipy"}
    assert "recipes/pure" in by_kind["downstream"]
    skipped = [n for n in plan.nodes if n.skipped]
    assert all(n.layer == -1 for n in skipped)
    via = [e for e in plan.edges if e.via]
    assert via and all(e.target.startswith("pure") for e in via)
    validate_plan_dict(json.loads(plan.to_json()))


def test_render_errors_are_reported_not_raised() -> None:
    bad = PlatformRender("recipes/bad", "linux-64", error=RecipeError("recipes/bad/meta.yaml", 3, "boom"))
    plan = make(renders=[*as_renders(stack()), bad])
    assert plan.errors == (RecipeError("recipes/bad/meta.yaml", 3, "boom"),)
    assert plan.to_dict()["errors"] == [{"path": "recipes/bad/meta.yaml", "line": 3, "message": "boom"}]


def test_empty_selection_gives_an_empty_valid_plan() -> None:
    plan = make(Selection(seeded=True))
    assert plan.nodes == () and plan.edges == ()
    validate_plan_dict(json.loads(plan.to_json()))


def cross_stack():
    """tool (native on both), lib and app on linux-aarch64 cross-compiled on linux-64, pure noarch."""
    rs = []
    for p in ("linux-64", "linux-aarch64"):
        rs.append(recipe("recipes/tool", [out("tool", "1.0")], p))
        rs.append(recipe("recipes/lib", [out("lib", "1.0")], p))
        rs.append(recipe("recipes/app", [out("app", "1.0", build=("tool",), host=("lib", "pure"))], p))
        rs.append(recipe("recipes/pure", [out("pure", "1.0", run=("lib",), noarch="python")], p))
    return rs


def test_cross_compiled_jobs_are_in_their_build_platforms_lane() -> None:
    plan = make(
        renders=as_renders(cross_stack()),
        platforms=("linux-64", "linux-aarch64"),
        build_platforms={"linux-aarch64": "linux-64"},
    )
    by = {(n.recipe.split("/")[-1], n.platform): n for n in plan.nodes}
    app = by[("app", "linux-aarch64")]
    assert (app.build_platform, app.pool) == ("linux-64", "linux-64")
    # drawn where it runs: the linux-64 lane; the linux-aarch64 lane has nothing to run
    lane_of = {job: lane for lane, layers in plan.layers.items() for layer in layers for job in layer}
    assert lane_of == {n.id: n.build_platform for n in plan.nodes}
    assert plan.layers["linux-aarch64"] == ()
    assert app.id in plan.layers["linux-64"][app.layer]
    assert (
        set(plan.makespan) == set(plan.critical_path) == set(plan.external) == {"linux-64", "linux-aarch64"}
    )
    # the build tool is the linux-64 one; lib and pure for linux-aarch64 come first, in the same lane
    sources = {e.source for e in plan.edges if e.target == app.id}
    assert sources == {
        by[("tool", "linux-64")].id,
        by[("lib", "linux-aarch64")].id,
        by[("pure", "noarch")].id,
    }
    layer = {n.id: n.layer for n in plan.nodes}
    assert all(layer[e.source] < layer[e.target] for e in plan.edges)
    # the Markdown says what a cross-compiled job is built for
    from planner.export.markdown import to_markdown

    text = to_markdown(plan)
    assert "`app 1.0 → linux-aarch64`" in text and "`app 1.0`" in text
    assert "<b>linux-aarch64</b>" not in text


def test_plan_layers_and_flow_lanes_agree() -> None:
    """The flows cut a plan into per-platform subflows by build platform; the plan's lanes must be those."""
    lanes = pytest.importorskip("flows.run.lanes")
    for renders, extra in (
        (
            as_renders(cross_stack()),
            {"platforms": ("linux-64", "linux-aarch64"), "build_platforms": {"linux-aarch64": "linux-64"}},
        ),
        (as_renders(stack()), {}),
    ):
        plan = make(renders=renders, **extra)
        in_layers = {lane: {j for layer in layers for j in layer} for lane, layers in plan.layers.items()}
        gpu = {n.id for n in plan.nodes if n.test_pool == "gpu"}
        for lane in lanes.split_lanes(plan):
            if lane.platform == "gpu":
                assert {j.removesuffix("#gpu-test") for j in lane.job_ids} == gpu
                continue
            assert set(lane.job_ids) == in_layers[lane.platform], lane.platform


def test_lanes_waiting_for_each_other_in_a_cycle_are_a_warning() -> None:
    """base and top are native linux-aarch64 jobs; mid is cross-compiled on linux-64 by its own render:
    aarch64 lane -> linux-64 lane -> aarch64 lane, which the flows cannot order."""
    from dataclasses import replace

    rs = [
        recipe("recipes/base", [out("base", "1.0")], "linux-aarch64"),
        replace(
            recipe("recipes/mid", [out("mid", "1.0", host=("base",))], "linux-aarch64"),
            build_platform="linux-64",
        ),
        recipe("recipes/top", [out("top", "1.0", host=("mid",))], "linux-aarch64"),
    ]
    plan = make(renders=as_renders(rs), platforms=("linux-64", "linux-aarch64"))
    assert [n.build_platform for n in sorted(plan.nodes, key=lambda n: n.recipe)] == [
        "linux-aarch64",
        "linux-64",
        "linux-aarch64",
    ]
    [warning] = [str(w) for w in plan.warnings if str(w).startswith("lanes wait")]
    assert (
        "linux-64 -> linux-aarch64 -> linux-64" in warning
        or "linux-aarch64 -> linux-64 -> linux-aarch64" in warning
    )
    # config-wide cross-compiling never does this
    ok = make(
        renders=as_renders(cross_stack()),
        platforms=("linux-64", "linux-aarch64"),
        build_platforms={"linux-aarch64": "linux-64"},
    )
    assert not any(str(w).startswith("lanes wait") for w in ok.warnings)
