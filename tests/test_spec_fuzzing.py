"""conda-build's spec fuzzing applied where the graph matches requirements, shown by ``explain``, and
every plan warning a structured value (issue 13, items 1 and 5)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from planner.graph.link import build_graph, jobs_from_renders
from planner.matchspec import SpecCache, ensure_valid_spec
from planner.model import RecipeFormat
from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.explain import explain
from planner.plan.model import WARNING_KINDS, validate_plan_dict
from planner.plan.select import UNLIMITED, Selection
from tests.recipes_factory import as_renders, out, recipe


@pytest.mark.parametrize(
    ("spec", "fuzzed"),
    [
        ("openssl 3", "openssl 3.*"),
        ("freetype 2.10", "freetype 2.10.*"),
        ("zlib 1.2.13", "zlib 1.2.13.*"),  # any bare version, not only a major one
        ("openssl  3", "openssl 3.*"),  # runs of whitespace fold
        ("zlib 1.*", "zlib 1.*"),  # already a wildcard
        ("zlib >=1.2.13,<1.3", "zlib >=1.2.13,<1.3"),  # an operator
        ("zlib =1.2.12", "zlib =1.2.12"),
        ("foo 1.2|1.3", "foo 1.2|1.3"),
        ("tk 8.6 h1234_0", "tk 8.6 h1234_0"),  # with a build string: an exact pin
        ("python 3.12.* *_cpython", "python 3.12.* *_cpython"),
        ("numpy x.x", "numpy x.x"),
        ("zlib", "zlib"),
    ],
)
def test_ensure_valid_spec_follows_conda_build(spec: str, fuzzed: str) -> None:
    assert ensure_valid_spec(spec) == fuzzed


def test_v0_requirements_are_fuzzed_v1_requirements_are_matched_as_written() -> None:
    cache = SpecCache()
    v0 = cache.try_parse_requirement("openssl 3", "v0")
    v1 = cache.try_parse_requirement("openssl 3", "v1")
    assert v0 is not None and v1 is not None
    assert (v0.raw, v0.rewritten, v0.version) == ("openssl 3", "openssl 3.*", "3.*")
    assert cache.accepts(v0, "3.0.13") and not cache.accepts(v1, "3.0.13")
    assert v1.rewritten is None


def _hub(fmt: RecipeFormat = RecipeFormat.V0):
    openssl = recipe("recipes/openssl", [out("openssl", "3.0.13")])
    python = replace(
        recipe("recipes/python", [out("python", "3.12.4", host=("openssl 3", "zlib 1.2.13"))]), format=fmt
    )
    zlib = recipe("recipes/zlib", [out("zlib", "1.3.1")])
    return [openssl, python, zlib]


def test_the_graph_links_python_to_openssl_3_0_13_through_the_fuzzed_spec() -> None:
    def edges(fmt):
        result = build_graph(jobs_from_renders(_hub(fmt)))
        name = lambda n: result.graph.nodes[n]["job"].name  # noqa: E731
        return sorted((name(u), name(v)) for u, v in result.graph.edges), result

    v0_edges, v0 = edges(RecipeFormat.V0)
    assert v0_edges == [("openssl", "python")]
    # zlib 1.2.13 -> 1.2.13.*: 1.3.1 does not fit, a warning says so
    assert [(u.spec, u.job.split("-")[0]) for u in v0.unsatisfied] == [("zlib 1.2.13", "python")]
    v1_edges, _ = edges(RecipeFormat.V1)
    assert v1_edges == []  # rattler-build: `openssl 3` is ==3


def _plan(selection: Selection):
    plan, _ = assemble_plan(as_renders(_hub()), selection, PlanSettings(root="r", platforms=("linux-64",)))
    return plan


def test_explain_shows_the_rewrite_and_what_came_from_the_channel_and_why() -> None:
    plan = _plan(Selection(packages=("openssl",), downstream=UNLIMITED))
    [python] = explain(plan, "python")
    text = "\n".join(python.lines())
    assert "`openssl 3` -> `openssl 3.*`, satisfied by openssl-3.0.13" in text
    assert "taken from the channel:" in text
    assert "zlib 1.2.13  (no version fits" in text


def test_every_warning_is_a_value_and_a_changed_name_breaking_a_pin_comes_first() -> None:
    renders = [*_hub(), recipe("recipes/aaa", [out("aaa", "1.0", host=("nothere 2", "openssl 1.1.1"))])]
    plan, _ = assemble_plan(
        as_renders(renders),
        Selection(changed={"recipes/zlib": "meta.yaml"}, downstream=UNLIMITED, packages=("aaa",)),
        PlanSettings(root="r", platforms=("linux-64",)),
    )
    data = json.loads(plan.to_json())
    validate_plan_dict(data)
    kinds = [w["kind"] for w in data["warnings"]]
    assert kinds[0] == "pin-broken" and set(kinds) <= set(WARNING_KINDS)
    first = data["warnings"][0]
    assert first["spec"] == "zlib 1.2.13" and first["job"].startswith("python-3.12.4-0@linux-64")
    assert first["related"][0].startswith("zlib-1.3.1-0@linux-64") and first["changed"] is True
    # the unrelated unsatisfied pin of aaa is there too, after the changed one
    assert [w["spec"] for w in data["warnings"][1:]] == ["openssl 1.1.1"]
    assert data["warnings"][1]["changed"] is True  # aaa itself was selected explicitly
    aaa = next(n for n in data["nodes"] if n["recipe"] == "recipes/aaa")
    assert aaa["from_channel"] == ["nothere", "openssl"]
