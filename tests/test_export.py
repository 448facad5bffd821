"""Exports: every format carries every job and edge, deterministically."""

from __future__ import annotations

import io
import json
import re

import networkx as nx
import pytest

from planner.export import FORMATS, export
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
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    ids = set(re.findall(r'data-id="([^"]+)"', text))
    assert ids == {n.id.replace("<", "&lt;").replace(">", "&gt;") for n in plan.nodes}
    assert "<svg" in text
    payload = re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', text, re.S)
    data = json.loads(payload.group(1))
    assert set(data) == {n.id for n in plan.nodes}
    assert {d["recipe"] for d in data.values()} >= {"recipes/sk<learn>"}
    assert "<script" in text and "</script>" in text
