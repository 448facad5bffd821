"""The whole bioconda graph (rendered by our v0 renderer) plans without an uncaught error, and a
known chain of three real recipes is ordered: htslib -> samtools (host) -> aligncov (noarch, run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.inputs.discover import discover
from planner.model import RenderOptions
from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.model import validate_plan_dict
from planner.plan.select import UNLIMITED, Selection
from planner.render.recipe import render_all

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


@pytest.fixture(scope="module")
def bioconda_renders(corpus: Path):
    options = RenderOptions(
        exclusive_configs=(
            corpus / "config" / "conda-forge-pinning.yaml",
            corpus / "config" / "bioconda_utils-conda_build_config.yaml",
        )
    )
    return render_all(discover(corpus / "bioconda"), ["linux-64"], options)


def test_whole_bioconda_graph_plans(bioconda_renders) -> None:
    plan, _ = assemble_plan(
        bioconda_renders, Selection(), PlanSettings(root="bioconda", platforms=("linux-64",))
    )
    assert len({r.recipe for r in bioconda_renders}) > 9000
    assert len(plan.nodes) > 8000 and len(plan.edges) > 1000
    validate_plan_dict(json.loads(plan.to_json()))
    layer = {n.id: n.layer for n in plan.nodes}
    assert all(layer[e.source] < layer[e.target] for e in plan.edges)
    by_recipe = {}
    for n in plan.nodes:
        by_recipe.setdefault(n.recipe, []).append(n)
    [htslib] = by_recipe["recipes/htslib"]
    [samtools] = by_recipe["recipes/samtools"]
    [aligncov] = by_recipe["recipes/aligncov"]
    assert aligncov.platform == "noarch"
    assert htslib.layer < samtools.layer < aligncov.layer
    edges = {(e.source, e.target): e for e in plan.edges}
    assert edges[(htslib.id, samtools.id)].phase == "host"
    assert edges[(samtools.id, aligncov.id)].spec == "samtools >=1.15"


def test_changing_htslib_rebuilds_its_stack_in_order(bioconda_renders) -> None:
    selection = Selection(changed={"recipes/htslib": "meta.yaml"}, downstream=UNLIMITED)
    plan, _ = assemble_plan(
        bioconda_renders, selection, PlanSettings(root="bioconda", platforms=("linux-64",))
    )
    recipes = {n.recipe: n for n in plan.nodes}
    assert recipes["recipes/htslib"].selected.kind == "changed"
    assert recipes["recipes/samtools"].selected.kind == "downstream"
    assert recipes["recipes/aligncov"].selected.kind == "downstream"
    assert "recipes/10x_bamtofastq" not in recipes
    assert (
        recipes["recipes/htslib"].layer
        < recipes["recipes/samtools"].layer
        < recipes["recipes/aligncov"].layer
    )


def test_anaconda_feedstocks_plan_with_multi_output_recipes(corpus: Path) -> None:
    """1,708 real feedstocks (multi-output recipes, Anaconda's aggregate config) plan without an error."""
    options = RenderOptions(
        exclusive_configs=(corpus / "config" / "anaconda-aggregate-conda_build_config.yaml",)
    )
    renders = render_all(discover(corpus / "anaconda"), ["linux-64"], options)
    plan, _ = assemble_plan(renders, Selection(), PlanSettings(root="anaconda", platforms=("linux-64",)))
    validate_plan_dict(json.loads(plan.to_json()))
    assert len(plan.nodes) > 1000 and plan.edges
    layer = {n.id: n.layer for n in plan.nodes}
    assert all(layer[e.source] < layer[e.target] for e in plan.edges)
    assert any(len(n.outputs) > 1 for n in plan.nodes)  # multi-output recipes are one job each
