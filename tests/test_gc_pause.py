"""planner.gc_pause: the collector is off inside, back on after (also on error), re-entrant, and
planning leaves it as it found it."""

from __future__ import annotations

import gc

import pytest

from planner.gc_pause import gc_paused
from planner.graph.link import build_graph, jobs_from_renders
from planner.model import RecipeFormat, RenderedOutput, RenderedRecipe, Requirements, Variant


def test_restored_after_an_error_and_nested_pauses_do_not_reenable_early() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        assert not gc.isenabled()
        raise ValueError("boom")
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still in force
    assert gc.isenabled()


def test_left_off_when_it_was_off_before() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_building_a_graph_leaves_the_collector_on() -> None:
    out = RenderedOutput("a", "1.0", 0, requirements=Requirements(host=("b",)))
    dep = RenderedOutput("b", "1.0", 0)
    renders = [
        RenderedRecipe("r/a", RecipeFormat.V0, "linux-64", Variant(), (out,)),
        RenderedRecipe("r/b", RecipeFormat.V0, "linux-64", Variant(), (dep,)),
    ]
    result = build_graph(jobs_from_renders(renders))
    assert result.graph.number_of_edges() == 1 and gc.isenabled()
