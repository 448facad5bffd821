"""Property tests on generated recipe sets: layers respect every edge, selection closures, determinism,
and pruning keeps order (the bug where A and C ran together once B was pruned)."""

from __future__ import annotations

import json
import random

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.model import validate_plan_dict
from planner.plan.select import UNLIMITED, Selection
from tests.recipes_factory import as_renders, out, recipe

PLATFORMS = ("linux-64", "osx-arm64", "win-64")
PHASES = ("build", "host", "run", "test")


@st.composite
def recipe_sets(draw):
    n = draw(st.integers(2, 10))
    names = [f"p{i}" for i in range(n)]
    versions = {name: draw(st.sampled_from(["1.0", "1.5", "2.0"])) for name in names}
    rendered = []
    for name in names:
        deps = draw(
            st.lists(st.tuples(st.sampled_from(names), st.sampled_from(PHASES), st.booleans()), max_size=4)
        )
        reqs = {"build": [], "host": [], "run": [], "test": []}
        for dep, phase, constrained in deps:
            if dep != name:
                reqs[phase].append(f"{dep} >=1.5" if constrained else dep)
        noarch = draw(st.sampled_from([None, None, None, "python"]))
        pythons = ("3.11", "3.12") if (noarch is None and draw(st.booleans())) else (None,)
        on = draw(st.lists(st.sampled_from(PLATFORMS), min_size=1, max_size=3, unique=True))
        for platform in on:
            for py in pythons:
                variant = {"python": py} if py else {}
                o = out(
                    name,
                    versions[name],
                    build=reqs["build"],
                    host=reqs["host"],
                    run=reqs["run"],
                    test=reqs["test"],
                    noarch=noarch,
                )
                rendered.append(recipe(f"recipes/{name}", [o], platform, variant))
    return rendered


def plan_of(rendered, selection=None):
    return assemble_plan(
        as_renders(rendered), selection or Selection(), PlanSettings(root="r", platforms=PLATFORMS)
    )


COMMON = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(recipe_sets())
def test_every_edge_goes_from_an_earlier_layer_to_a_later_one(rendered) -> None:
    plan, _ = plan_of(rendered)
    layer = {n.id: n.layer for n in plan.nodes}
    nodes = {n.id: n for n in plan.nodes}
    for e in plan.edges:
        assert layer[e.source] < layer[e.target]
        # lanes form a DAG for the flows: an edge between lanes always leaves a noarch job
        source, target = nodes[e.source], nodes[e.target]
        assert source.platform == "noarch" or source.build_platform == target.build_platform
    for platform, layers in plan.layers.items():
        for i, ids in enumerate(layers):
            for job in ids:
                assert layer[job] == i, platform
    validate_plan_dict(json.loads(plan.to_json()))


@COMMON
@given(recipe_sets(), st.randoms(use_true_random=False))
def test_identical_inputs_give_identical_bytes(rendered, rnd: random.Random) -> None:
    shuffled = list(rendered)
    rnd.shuffle(shuffled)
    assert plan_of(rendered)[0].to_json() == plan_of(shuffled)[0].to_json()


@COMMON
@given(recipe_sets(), st.data())
def test_downstream_and_upstream_are_closures(rendered, data) -> None:
    _, result = plan_of(rendered)
    g = result.graph  # cycles already broken
    recipes = sorted({r.recipe for r in rendered})
    changed = data.draw(st.lists(st.sampled_from(recipes), min_size=1, max_size=2, unique=True))
    seeds = {n for n in g if g.nodes[n]["job"].recipe in changed}
    down, _ = plan_of(rendered, Selection(changed={c: "x" for c in changed}, downstream=UNLIMITED))
    expected = set(seeds)
    for s in seeds:
        expected |= nx.descendants(g, s)
    assert {n.id for n in down.nodes} == expected
    up, _ = plan_of(rendered, Selection(changed={c: "x" for c in changed}, upstream=True))
    expected_up = set(seeds)
    for s in seeds:
        expected_up |= {a for a in nx.ancestors(g, s) if not g.nodes[a]["job"].skip}
    assert {n.id for n in up.nodes} == expected_up


@COMMON
@given(recipe_sets(), st.data())
def test_pruning_keeps_order_through_unselected_and_skipped_jobs(rendered, data) -> None:
    _, result = plan_of(rendered)
    g = result.graph
    names = sorted({g.nodes[n]["job"].name for n in g})
    picked = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    excluded = data.draw(st.lists(st.sampled_from(picked), max_size=2, unique=True))
    plan, _ = plan_of(rendered, Selection(packages=tuple(picked), exclude=tuple(excluded)))
    active = {n.id: n.layer for n in plan.nodes if not n.skipped}
    for u in active:
        for v in nx.descendants(g, u):
            if v in active:
                assert active[u] < active[v], (u, v)
    for n in plan.nodes:
        if n.skipped:
            assert n.layer == -1 and all(n.id not in layer for ls in plan.layers.values() for layer in ls)


@COMMON
@given(
    recipe_sets(),
    st.sampled_from([{"osx-arm64": "linux-64"}, {"win-64": "linux-64", "osx-arm64": "linux-64"}]),
)
def test_cross_compiled_jobs_live_in_their_build_lane_and_lanes_stay_a_dag(rendered, cross) -> None:
    plan, _ = assemble_plan(
        as_renders(rendered), Selection(), PlanSettings(root="r", platforms=PLATFORMS, build_platforms=cross)
    )
    nodes = {n.id: n for n in plan.nodes}
    lane_of = {job: lane for lane, layers in plan.layers.items() for layer in layers for job in layer}
    assert lane_of == {n.id: n.build_platform for n in plan.nodes if not n.skipped}
    for n in plan.nodes:
        assert (
            n.pool
            == n.build_platform
            == (cross.get(n.platform, n.platform) if n.platform != "noarch" else "linux-64")
        )
    lanes = nx.DiGraph()
    for e in plan.edges:
        source, target = nodes[e.source], nodes[e.target]
        assert source.platform == "noarch" or source.build_platform == target.build_platform
        if source.build_platform != target.build_platform:
            lanes.add_edge(source.build_platform, target.build_platform)
    assert nx.is_directed_acyclic_graph(lanes)
