"""Exports: every format carries every job and edge, deterministically."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.export import FORMATS, export
from planner.export import html as html_export
from planner.export.html import layout_links, page_data
from planner.export.markdown import MARKER
from planner.plan.model import Plan
from tests.plan_fixtures import sample_plan


@pytest.fixture(scope="module")
def plan() -> Plan:
    return sample_plan()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_is_deterministic(plan: Plan, fmt: str) -> None:
    assert export(plan, fmt) == export(sample_plan(), fmt)


def test_unknown_format(plan: Plan) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        export(plan, "pdf")


def test_json_is_the_plan(plan: Plan) -> None:
    assert Plan.from_dict(json.loads(export(plan, "json"))).to_json() == plan.to_json()


def test_graphml_round_trips_through_networkx(plan: Plan) -> None:
    g = nx.read_graphml(io.BytesIO(export(plan, "graphml").encode()))
    assert set(g.nodes) == {n.id for n in plan.nodes}
    assert {(e.source, e.target) for e in plan.edges} <= set(g.edges)
    assert g.nodes[plan.nodes[0].id]["selected"] == plan.nodes[0].selected.kind
    assert any(d.get("bootstrap") for _, _, d in g.edges(data=True))


def test_dot_has_lanes_nodes_and_edges(plan: Plan) -> None:
    text = export(plan, "dot")
    assert text.count("subgraph cluster_") == 2
    for n in plan.nodes:
        assert f'"{n.id}"' in text
    assert sum(1 for line in text.splitlines() if " -> " in line) == len(plan.edges) + len(
        plan.bootstrap_edges
    )
    assert "style=dashed" in text  # the via edge (pure waits for numpy through skipped scipy... or sklearn)


def test_mermaid_shapes(plan: Plan) -> None:
    text = export(plan, "mermaid")
    assert text.startswith("flowchart LR\n")
    assert len(re.findall(r"^\s+n\d+\[", text, re.M)) == len(plan.nodes)
    assert len(re.findall(r"-->|-\.->", text)) == len(plan.edges)


def test_markdown_preview_body(plan: Plan) -> None:
    text = export(plan, "markdown")
    assert text.startswith(MARKER)
    assert "<summary><b>linux-64</b>" in text and "<summary><b>osx-arm64</b>" in text
    assert "### What changed" in text and "**changed** `meta.yaml`" in text
    assert "- **layer 0** (1): ★`numpy 1.26.4` `py 3.11, 3.12`" in text  # ★: what the PR changed
    assert "2 job(s) skipped" in text and "exists" in text
    assert "cycle(s) broken" in text and "warning(s)" in text
    # jobs of one recipe are one item, the differing variant key collapsed
    assert text.count("`sklearn 1.5` `py 3.11, 3.12`") == 2
    assert "| platform | jobs | recipes | layers | makespan |" in text and " jobs |" in text


def test_html_is_self_contained_and_shows_every_job(plan: Plan) -> None:
    text = export(plan, "html")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing loaded from anywhere
    assert "cytoscape" in text and "License: MIT" in text  # the vendored library, inline
    payload = re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', text, re.S)
    assert "<" not in payload.group(1) and ">" not in payload.group(1)
    data = json.loads(payload.group(1))
    assert {j["id"] for j in data["jobs"]} == {n.id for n in plan.nodes}
    assert {b["id"].split(":", 2)[2] for b in data["boxes"]} >= {"recipes/sk<learn>"}
    # every job in exactly one recipe box of its lane; variants of one recipe share a box
    boxed = [j for b in data["boxes"] for j in b["jobs"]]
    assert sorted(boxed) == sorted(j["id"] for j in data["jobs"])
    numpy = next(b for b in data["boxes"] if b["id"] == "recipe:linux-64:recipes/numpy")
    assert numpy["label"] == "numpy-1.26.4 (2 jobs)"
    assert sorted(j["tag"] for j in data["jobs"] if j["box"] == numpy["id"]) == ["py=3.11", "py=3.12"]


def test_html_draws_the_transitive_reduction_which_keeps_reachability(plan: Plan) -> None:
    """Drawn edges leave out what another path implies, and nothing upstream or downstream is lost."""
    full = nx.DiGraph((e.source, e.target) for e in plan.edges)
    data = page_data(plan)
    drawn = nx.DiGraph((e["source"], e["target"]) for e in data["edges"])
    drawn.add_nodes_from(full)
    assert set(drawn.edges) <= set(full.edges)
    assert nx.transitive_closure_dag(drawn).edges == nx.transitive_closure_dag(full).edges


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=60))
def test_layout_links_are_a_forest_of_one_rank_edges(pairs: list[tuple[int, int]]) -> None:
    """Whatever the DAG, the layout sees one incoming link per node, from a predecessor one rank
    before it (rank = longest path from a source)."""
    dag = [(f"n{a:02}", f"n{b:02}") for a, b in pairs if a < b]
    links = layout_links(dag)
    g = nx.DiGraph(dag)
    depth = {v: nx.dag_longest_path_length(g.subgraph(nx.ancestors(g, v) | {v})) for v in g}
    assert len({t for _, t in links}) == len(links)
    assert all((s, t) in g.edges and depth[t] == depth[s] + 1 for s, t in links)
    assert {t for _, t in links} == {v for v in g if depth[v] > 0}


def test_vendored_scripts_are_the_recorded_release_files() -> None:
    """The vendored files are byte-for-byte the npm releases vendor/README.md names, with licenses."""
    vendor = Path(html_export.__file__).parent / "vendor"
    readme = (vendor / "README.md").read_text()
    for name in html_export.VENDORED:
        digest = hashlib.sha256((vendor.parent / name).read_bytes()).hexdigest()
        assert f"{digest}  {Path(name).name}" in readme
    for lib in ("cytoscape", "cytoscape-dagre", "dagre"):
        assert "Permission is hereby granted" in (vendor / f"{lib}.LICENSE.txt").read_text()
