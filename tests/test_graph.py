"""The job graph: which job waits for which, on which platform and variant."""

from __future__ import annotations

import networkx as nx
import pytest

from planner.graph.cycles import CycleError, break_cycles, find_cycles
from planner.graph.link import build_graph, job_id, jobs_from_renders
from tests.recipes_factory import out, recipe

PY = ("3.11", "3.12")


def edges(result) -> set[tuple[str, str, str, str]]:
    """(dep recipe, dep lane, job recipe, job lane) of every edge."""
    g = result.graph
    return {
        (
            g.nodes[u]["job"].recipe,
            g.nodes[u]["job"].platform,
            g.nodes[v]["job"].recipe,
            g.nodes[v]["job"].platform,
        )
        for u, v in g.edges
    }


def variant_edges(result) -> set[tuple[str, str, str, str]]:
    g = result.graph
    return {
        (
            g.nodes[u]["job"].recipe,
            g.nodes[u]["job"].variant.get("python", ""),
            g.nodes[v]["job"].recipe,
            g.nodes[v]["job"].variant.get("python", ""),
        )
        for u, v in g.edges
    }


def graph_of(recipes, **kw):
    platforms = kw.pop("platforms", None)
    jobs = jobs_from_renders(
        recipes, **{k: kw.pop(k) for k in ("noarch_platform", "build_platforms") if k in kw}
    )
    return build_graph(jobs, platforms=platforms, **kw)


def test_three_node_chain_with_phases() -> None:
    result = graph_of(
        [
            recipe("r/a", [out("a")]),
            recipe("r/b", [out("b", host=("a",))]),
            recipe("r/c", [out("c", run=("b >=1",), test=("a",))]),
        ]
    )
    g = result.graph
    assert edges(result) == {
        ("r/a", "linux-64", "r/b", "linux-64"),
        ("r/b", "linux-64", "r/c", "linux-64"),
        ("r/a", "linux-64", "r/c", "linux-64"),
    }
    ids = {g.nodes[n]["job"].recipe: n for n in g}
    assert g.edges[ids["r/a"], ids["r/b"]]["phase"] == "host"
    assert g.edges[ids["r/a"], ids["r/c"]]["phase"] == "test"
    assert g.edges[ids["r/b"], ids["r/c"]]["spec"] == "b >=1"


def test_version_constraint_uses_conda_semantics() -> None:
    result = graph_of(
        [recipe("r/numpy", [out("numpy", "1.26.4")]), recipe("r/scipy", [out("scipy", host=("numpy >=2",))])]
    )
    assert edges(result) == set()
    assert result.external  # numpy >=2 comes from the channel
    [miss] = result.unsatisfied
    assert miss.spec == "numpy >=2" and "numpy-1.26.4" in miss.candidates[0]


def test_variant_values_agree_on_shared_keys() -> None:
    recipes = []
    for py in PY:
        recipes.append(recipe("r/numpy", [out("numpy", "1.26")], variant={"python": py}))
        recipes.append(recipe("r/scipy", [out("scipy", host=("numpy",))], variant={"python": py}))
    recipes.append(recipe("r/tool", [out("tool", host=("numpy",))]))  # no python key: waits for both
    result = graph_of(recipes)
    assert variant_edges(result) == {
        ("r/numpy", "3.11", "r/scipy", "3.11"),
        ("r/numpy", "3.12", "r/scipy", "3.12"),
        ("r/numpy", "3.11", "r/tool", ""),
        ("r/numpy", "3.12", "r/tool", ""),
    }


def test_same_platform_only() -> None:
    result = graph_of(
        [
            recipe("r/a", [out("a")], "linux-64"),
            recipe("r/a", [out("a")], "osx-arm64"),
            recipe("r/b", [out("b", host=("a",))], "osx-arm64"),
        ]
    )
    assert edges(result) == {("r/a", "osx-arm64", "r/b", "osx-arm64")}


def test_noarch_job_built_once_and_serves_every_platform() -> None:
    platforms = ("linux-64", "osx-arm64", "win-64")
    recipes = [recipe("r/pure", [out("pure", noarch="python")], p, {"target_platform": p}) for p in platforms]
    recipes += [recipe("r/user", [out("user", host=("pure",))], p) for p in platforms]
    result = graph_of(recipes, platforms=platforms)
    noarch = [n for n in result.graph if result.graph.nodes[n]["job"].is_noarch]
    assert len(noarch) == 1
    job = result.graph.nodes[noarch[0]]["job"]
    assert (job.platform, job.build_platform, job.lane) == ("noarch", "linux-64", "linux-64")
    assert edges(result) == {("r/pure", "noarch", "r/user", p) for p in platforms}


def test_noarch_build_platform_is_configurable() -> None:
    recipes = [recipe("r/pure", [out("pure", noarch="generic")], p) for p in ("linux-64", "osx-arm64")]
    [job] = jobs_from_renders(recipes, noarch_platform="osx-arm64")
    assert job.build_platform == "osx-arm64" and job.id.endswith("]") and "@noarch[" in job.id


def test_what_a_noarch_package_pulls_in_is_ordered_before_its_dependents_on_each_platform() -> None:
    platforms = ("linux-64", "osx-arm64")
    recipes = [recipe("r/lib", [out("lib")], p) for p in platforms]
    recipes += [recipe("r/base", [out("base", run=("lib",), noarch="python")], p) for p in platforms]
    recipes += [recipe("r/pure", [out("pure", run=("base",), noarch="python")], p) for p in platforms]
    recipes += [recipe("r/user", [out("user", host=("pure",))], p) for p in platforms]
    result = graph_of(recipes, platforms=platforms)
    assert edges(result) == {
        ("r/lib", "linux-64", "r/base", "noarch"),  # built and tested on linux-64
        ("r/base", "noarch", "r/pure", "noarch"),
        ("r/pure", "noarch", "r/user", "linux-64"),
        ("r/pure", "noarch", "r/user", "osx-arm64"),
        ("r/lib", "osx-arm64", "r/user", "osx-arm64"),  # pulled in through pure -> base at run time
    }
    # edges between lanes only ever leave a noarch job: the platform lanes form no cycle
    g = result.graph
    for u, v in g.edges:
        a, b = g.nodes[u]["job"], g.nodes[v]["job"]
        assert a.lane == b.lane or a.is_noarch


def test_cross_compiling_build_requirements_resolve_on_the_build_platform() -> None:
    recipes = [
        recipe("r/tool", [out("tool")], "linux-64"),
        recipe("r/tool", [out("tool")], "linux-aarch64"),
        recipe("r/lib", [out("lib")], "linux-aarch64"),
        recipe("r/app", [out("app", build=("tool",), host=("lib",))], "linux-aarch64"),
    ]
    result = graph_of(
        recipes, build_platforms={"linux-aarch64": "linux-64"}, platforms=("linux-64", "linux-aarch64")
    )
    assert edges(result) == {
        ("r/tool", "linux-64", "r/app", "linux-aarch64"),
        ("r/lib", "linux-aarch64", "r/app", "linux-aarch64"),
    }


def test_outputs_of_one_recipe_are_one_job_and_pin_subpackage_is_internal() -> None:
    result = graph_of(
        [
            recipe("r/htslib", [out("libhts"), out("htslib", host=("libhts",), run=("libhts 1.0",))]),
            recipe("r/user", [out("user", host=("htslib",))]),
        ]
    )
    assert len(result.graph) == 2
    assert edges(result) == {("r/htslib", "linux-64", "r/user", "linux-64")}


def test_other_variants_of_the_same_recipe_order_each_other() -> None:
    recipes = [
        recipe("r/self", [out("self-core", "1.0")], variant={"zlib": "1.3"}),
        recipe("r/self", [out("self-ext", "1.0", host=("self-core",))], variant={"python": "3.12"}),
    ]
    result = graph_of(recipes)
    assert len(result.graph.edges) == 1


def test_several_providers_highest_version_then_override() -> None:
    recipes = [
        recipe("recipes/samtools", [out("samtools", "1.20")]),
        recipe("recipes/samtools/1.6", [out("samtools", "1.6")]),
        recipe("recipes/user", [out("user", host=("samtools",))]),
        recipe("recipes/old", [out("old", host=("samtools <1.9",))]),
    ]
    result = graph_of(recipes)
    assert edges(result) == {
        ("recipes/samtools", "linux-64", "recipes/user", "linux-64"),
        ("recipes/samtools/1.6", "linux-64", "recipes/old", "linux-64"),
    }
    [amb] = result.ambiguities
    assert amb.candidates == ("recipes/samtools", "recipes/samtools/1.6") and amb.chosen == "recipes/samtools"
    overridden = graph_of(recipes, providers={"samtools": "recipes/samtools/1.6"})
    assert ("recipes/samtools/1.6", "linux-64", "recipes/user", "linux-64") in edges(overridden)
    assert overridden.ambiguities == []


def test_equal_versions_choose_the_first_recipe_dir() -> None:
    recipes = [
        recipe("b/zlib", [out("libzlib", "1.3")]),
        recipe("a/zlib", [out("libzlib", "1.3")]),
        recipe("c/user", [out("user", host=("libzlib",))]),
    ]
    assert ("a/zlib", "linux-64", "c/user", "linux-64") in edges(graph_of(recipes))


def test_externals_and_invalid_specs() -> None:
    result = graph_of([recipe("r/a", [out("a", host=("zlib", "{{ broken }}"))])])
    [node] = result.graph.nodes
    assert result.external[node] == {"zlib"}
    assert result.invalid_specs == [(node, "{{ broken }}")]


def test_job_id_format_and_collisions() -> None:
    assert job_id("numpy", "1.26", 0, "linux-64", {}) == "numpy-1.26-0@linux-64[44136fa3]"
    jobs = jobs_from_renders([recipe("a/x", [out("x")]), recipe("b/x", [out("x")])])
    assert len({j.id for j in jobs}) == 2


def test_render_skipped_variants_become_skip_jobs_without_edges() -> None:
    result = graph_of([recipe("r/a", [out("a")], skip=True), recipe("r/b", [out("b", host=("a",))])])
    assert edges(result) == set()
    assert sum(1 for n in result.graph if result.graph.nodes[n]["job"].skip) == 1


def cyclic():
    return [
        recipe("r/cmake", [out("cmake", build=("ninja",))]),
        recipe("r/ninja", [out("ninja", build=("cmake",), test=("cmake",))]),
        recipe("r/pip", [out("pip", run=("wheel",))]),
        recipe("r/wheel", [out("wheel", host=("packaging",))]),
        recipe("r/packaging", [out("packaging", host=("pip",))]),
    ]


def test_cycles_are_broken_at_the_weakest_edge_and_reported_in_full() -> None:
    result = graph_of(cyclic())
    g = result.graph
    cycles = break_cycles(g)
    assert nx.is_directed_acyclic_graph(g)
    dropped = {(g.nodes[u]["job"].name, g.nodes[v]["job"].name) for u, v in (c.dropped for c in cycles)}
    assert ("wheel", "pip") in dropped  # pip needs wheel at run time only: the weakest edge
    assert len(cycles) == 2
    text = "\n".join(c.describe() for c in cycles)
    assert "--run: wheel-->" in text and "--host: pip-->" in text and "[linux-64]" in text


def test_find_cycles_does_not_change_the_graph_and_strict_error_lists_them() -> None:
    result = graph_of(cyclic())
    before = set(result.graph.edges)
    cycles = find_cycles(result.graph)
    assert set(result.graph.edges) == before
    err = CycleError(cycles)
    assert "2 dependency cycle(s)" in str(err) and "cmake" in str(err)


def test_breaking_is_deterministic() -> None:
    a, b = graph_of(cyclic()).graph, graph_of(list(reversed(cyclic()))).graph
    assert [c.dropped for c in break_cycles(a)] == [c.dropped for c in break_cycles(b)]


@pytest.mark.parametrize("phase_order", [("test", "run"), ("run", "build")])
def test_weaker_phase_is_dropped_first(phase_order) -> None:
    weak, strong = phase_order

    def reqs(phase, name):
        return {"test": {"test": (name,)}, "run": {"run": (name,)}, "build": {"build": (name,)}}[phase]

    result = graph_of(
        [recipe("r/x", [out("x", **reqs(weak, "y"))]), recipe("r/y", [out("y", **reqs(strong, "x"))])]
    )
    [cycle] = break_cycles(result.graph)
    g = result.graph
    assert g.nodes[cycle.dropped[1]]["job"].name == "x"  # the edge into x (x's weak requirement) went


def test_fast_edge_fill_is_networkx_add_edges_from() -> None:
    import networkx as nx

    from planner.graph.link import _add_edges

    nodes = [f"n{i}" for i in range(6)]
    edges = [("n0", "n1", {"phase": "host"}), ("n1", "n2", {"phase": "run"}), ("n0", "n5", {"phase": "test"})]
    ours, theirs = nx.DiGraph(), nx.DiGraph()
    for g in (ours, theirs):
        g.add_nodes_from(nodes)
    _add_edges(ours, [(u, v, dict(a)) for u, v, a in edges])
    theirs.add_edges_from(edges)
    assert nx.utils.graphs_equal(ours, theirs)
    assert list(ours.predecessors("n1")) == ["n0"] and ours.edges["n0", "n5"] == {"phase": "test"}
    assert ours.pred["n2"]["n1"] is ours.succ["n1"]["n2"]  # one attribute dict per edge, as networkx
