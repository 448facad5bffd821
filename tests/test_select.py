"""Selection: seeds, closures, skips, and order carried through what is left out."""

from __future__ import annotations

from planner.graph.cycles import break_cycles
from planner.graph.link import build_graph, jobs_from_renders
from planner.plan.select import UNLIMITED, Selection, carry_edges, select
from tests.recipes_factory import out, recipe


def chain():
    """a -> b -> c -> d, plus e (alone) and s (skipped on this platform)."""
    return [
        recipe("r/a", [out("a")]),
        recipe("r/b", [out("b", host=("a",))]),
        recipe("r/c", [out("c", host=("b",))]),
        recipe("r/d", [out("d", run=("c",))]),
        recipe("r/e", [out("e")]),
        recipe("r/s", [out("s")], skip=True),
    ]


def graph():
    g = build_graph(jobs_from_renders(chain())).graph
    break_cycles(g)
    return g


def names(g, ids) -> set[str]:
    return {g.nodes[n]["job"].name for n in ids}


def test_no_seed_selects_everything_not_render_skipped() -> None:
    g = graph()
    result = select(g, Selection())
    assert names(g, result.selected) == {"a", "b", "c", "d", "e"}
    assert {r.kind for r in result.selected.values()} == {"all"}


def test_changed_with_downstream_depth() -> None:
    g = graph()
    one = select(g, Selection(changed={"r/a": "meta.yaml"}, downstream=1))
    assert names(g, one.selected) == {"a", "b"}
    every = select(g, Selection(changed={"r/a": "meta.yaml"}, downstream=UNLIMITED))
    assert names(g, every.selected) == {"a", "b", "c", "d"}
    kinds = {g.nodes[n]["job"].name: r.kind for n, r in every.selected.items()}
    assert kinds == {"a": "changed", "b": "downstream", "c": "downstream", "d": "downstream"}
    assert "2 steps" in next(r.detail for n, r in every.selected.items() if g.nodes[n]["job"].name == "c")


def test_upstream_takes_ancestors_missing_from_the_channel() -> None:
    g = graph()
    sel = select(g, Selection(packages=("c",), upstream=True))
    assert names(g, sel.selected) == {"a", "b", "c"}
    existing = frozenset({("a", "1.0", 0, "linux-64")})
    sel = select(g, Selection(packages=("c",), upstream=True, existing=existing))
    assert names(g, sel.selected) == {"b", "c"}
    # b in the channel: a is not needed to build c either
    existing = frozenset({("b", "1.0", 0, "linux-64")})
    sel = select(g, Selection(packages=("c",), upstream=True, existing=existing))
    assert names(g, sel.selected) == {"c"}


def test_package_globs_recipe_dirs_and_unknown_names() -> None:
    g = graph()
    sel = select(g, Selection(packages=("r/b", "d*", "nope")))
    assert names(g, sel.selected) == {"b", "d"}
    assert sel.unknown_packages == ["nope"]


def test_skips_keep_the_job_with_a_reason() -> None:
    g = graph()
    existing = frozenset({("c", "1.0", 0, "linux-64")})
    sel = select(
        g,
        Selection(
            exclude=("b",),
            skiplist=("r/d",),
            existing=existing,
            channel="./ch",
            packages=("a", "b", "c", "d", "s"),
        ),
    )
    why = {g.nodes[n]["job"].name: r.kind for n, r in sel.skipped.items()}
    assert why == {"b": "excluded", "c": "exists", "d": "skiplist", "s": "render-skip"}
    assert names(g, sel.active) == {"a"}
    assert "./ch" in next(r.detail for n, r in sel.skipped.items() if why[g.nodes[n]["job"].name] == "exists")


def test_order_is_carried_through_unselected_and_skipped_jobs() -> None:
    g = graph()
    ids = {g.nodes[n]["job"].name: n for n in g}
    edges = carry_edges(g, {ids["a"], ids["d"]})
    assert [(e.source, e.target, e.via) for e in edges] == [(ids["a"], ids["d"], (ids["b"], ids["c"]))]
    assert edges[0].phase == "run"  # what the target needs: d needs c at run time
    sel = select(g, Selection(packages=("a", "b", "c"), exclude=("b",)))
    carried = carry_edges(g, sel.active)
    assert [(e.source, e.target, e.via) for e in carried] == [(ids["a"], ids["c"], (ids["b"],))]


def test_direct_edges_win_over_carried_ones() -> None:
    g = build_graph(
        jobs_from_renders(
            [
                recipe("r/a", [out("a")]),
                recipe("r/b", [out("b", host=("a",))]),
                recipe("r/c", [out("c", host=("a", "b"))]),
            ]
        )
    ).graph
    ids = {g.nodes[n]["job"].name: n for n in g}
    edges = carry_edges(g, {ids["a"], ids["c"]})
    assert [(e.source, e.target, e.via) for e in edges] == [(ids["a"], ids["c"], ())]
