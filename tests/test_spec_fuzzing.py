"""conda-build's spec fuzzing applied where the graph matches requirements, shown by ``explain``, and
every plan warning a structured value (issue 13, items 1 and 5)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from planner.graph.link import build_graph, jobs_from_renders
from planner.inputs.discover import discover
from planner.matchspec import SpecCache, apply_variant_v1, ensure_valid_spec
from planner.model import RecipeFormat, RenderOptions
from planner.plan.build import PlanSettings, assemble_plan
from planner.plan.explain import explain
from planner.plan.model import WARNING_KINDS, validate_plan_dict
from planner.plan.select import UNLIMITED, Selection
from planner.render.recipe import render_recipe
from tests.recipe_files import meta_yaml, write_tree
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
    # a v1 render never yields `openssl 3` (rattler-build refuses it, see
    # test_a_recipe_yaml_bare_version_is_refused_as_rattler_build_refuses_it); a hand-made v1 job
    # carrying one is read as py-rattler reads it, ==3
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
    assert v1_edges == []  # not fuzzed for v1: py-rattler reads `openssl 3` as ==3


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


# --- recipe.yaml (v1): what rattler-build does, not conda-build -------------------------------------
# rattler-build parses recipe.yaml requirements with ParseStrictness::Strict
# (crates/rattler_build_recipe/src/stage0/parser/requirements.rs, .../stage0/evaluate.rs
# parse_dependency_string), and pins a bare build/host name from the variant in
# crates/rattler_build_core/src/render/resolved_dependencies.rs (apply_variant).

V1_VARIANTS = """\
openssl:
  - "3"
ruamel_yaml:
  - "0.18"
libfoo:
  - "1.1.1_w"
tk:
  - "8.6 h123_0"
python:
  - "3.12.* *_cpython"
"""


def _v1_tree(tmp_path: Path, **recipes: str) -> list:
    """Write ``name=recipe.yaml text`` recipes and the variant file; render each on linux-64."""
    write_tree(
        tmp_path,
        {"variants.yaml": V1_VARIANTS, **{f"recipes/{n}/recipe.yaml": t for n, t in recipes.items()}},
    )
    options = RenderOptions(variant_configs=(tmp_path / "variants.yaml",))
    return [pr for src in discover(tmp_path / "recipes") for pr in render_recipe(src, ["linux-64"], options)]


def _v1_recipe(name: str, version: str = "1.0", **phases: list[str]) -> str:
    reqs = "".join(f"  {phase}:\n" + "".join(f"    - {r}\n" for r in rs) for phase, rs in phases.items())
    return f"package:\n  name: {name}\n  version: '{version}'\n" + (f"requirements:\n{reqs}" if reqs else "")


@pytest.mark.parametrize(
    "host",
    ["openssl 3", "openssl ${{ openssl }}", "openssl 3 h123_0"],
)
def test_a_recipe_yaml_bare_version_is_refused_as_rattler_build_refuses_it(tmp_path: Path, host: str) -> None:
    """Strict parsing: a version without operator is ambiguous ("did you mean ==3 or 3.*?"); the
    recipe is a render error, never an edge matched one way or the other."""
    [pr] = _v1_tree(tmp_path, python=_v1_recipe("python", "3.12.4", host=["zlib >=1", host]))
    assert not pr.ok and "missing range specifier for '3'" in pr.error.message
    assert pr.error.line == 7  # the refused requirement's line (rattler-build does not give it)


@pytest.mark.parametrize(
    ("host", "pinned"),
    [
        ("openssl", "openssl 3.*"),  # letters, digits, dots: `=3`, a starts-with match
        ("libfoo", "libfoo 1.1.1_w"),  # anything else as written (conda-build would add `.*`)
        ("tk", "tk 8.6 h123_0"),  # a version and build: as written
        ("python", "python 3.12.* *_cpython"),
        ("ruamel.yaml", "ruamel.yaml 0.18.*"),  # the key is looked up with `-`, `_`, `.` alike
        ("openssl >=3.1", "openssl >=3.1"),  # a constrained requirement keeps its own constraint
        ("zlib", "zlib"),  # not a variant key
    ],
)
def test_a_bare_recipe_yaml_host_name_gets_rattler_builds_variant_pin(
    tmp_path: Path, host: str, pinned: str
) -> None:
    name = host.split()[0]
    [pr] = _v1_tree(tmp_path, r=_v1_recipe("r", host=[host], run=[name]))
    [job] = pr.variants
    [output] = job.outputs
    assert output.requirements.host == (pinned,)
    assert output.requirements.run == (name,)  # run requirements are never pinned


def test_the_variant_pin_links_a_recipe_yaml_to_openssl_3_0_13_and_1_1_1_w_only_exactly() -> None:
    cache = SpecCache()
    star = cache.try_parse_requirement(apply_variant_v1("openssl", {"openssl": "3"}), "v1")
    exact = cache.try_parse_requirement(apply_variant_v1("libfoo", {"libfoo": "1.1.1_w"}), "v1")
    assert star is not None and exact is not None
    assert cache.accepts(star, "3.0.13") and not cache.accepts(star, "30.1")
    assert cache.accepts(exact, "1.1.1_w") and not cache.accepts(exact, "1.1.1_w.1")
    # a channel prefix goes (rattler-build rebuilds the spec from the name), when the key is used
    assert apply_variant_v1("conda-forge::openssl", {"openssl": "3"}) == "openssl 3.*"


def test_recipe_yaml_python_with_a_bare_openssl_waits_for_openssl_3_0_13(tmp_path: Path) -> None:
    renders = _v1_tree(
        tmp_path,
        openssl=_v1_recipe("openssl", "3.0.13"),
        python=_v1_recipe("python", "3.12.4", host=["openssl"]),
        old=_v1_recipe("old", host=["openssl ==3"]),  # ==3 as written: 3.0.13 does not fit
    )
    result = build_graph(jobs_from_renders(job for pr in renders for job in pr.variants))
    name = lambda n: result.graph.nodes[n]["job"].name  # noqa: E731
    assert sorted((name(u), name(v)) for u, v in result.graph.edges) == [("openssl", "python")]
    assert [u.spec for u in result.unsatisfied] == ["openssl ==3"]


@pytest.mark.parametrize(
    ("host", "pinned"),
    [
        ("openssl", "openssl 3.*"),
        ("libfoo", "libfoo 1.1.1_w.*"),  # conda-build's insert_variant_versions: ensure_valid_spec
        ("tk", "tk 8.6 h123_0"),  # a version and build: an exact pin, as written
        ("python", "python 3.12.* *_cpython"),
        ("zlib", "zlib"),  # not a variant key
    ],
)
def test_a_bare_meta_yaml_host_name_gets_conda_builds_fuzzed_variant_pin(
    tmp_path: Path, host: str, pinned: str
) -> None:
    """The render pins a bare build/host name to its variant value through the same
    ``ensure_valid_spec`` the graph matches with (one home for conda-build's fuzzing)."""
    write_tree(
        tmp_path,
        {
            "variants.yaml": V1_VARIANTS,
            "recipes/app/meta.yaml": meta_yaml("app", host=[host]),
        },
    )
    options = RenderOptions(variant_configs=(tmp_path / "variants.yaml",))
    [pr] = [p for src in discover(tmp_path / "recipes") for p in render_recipe(src, ["linux-64"], options)]
    assert pr.ok, pr.error
    [job] = pr.variants
    assert job.outputs[0].requirements.host == (pinned,)


def test_a_recipe_yaml_pin_in_build_or_host_gets_no_variant_pin(tmp_path: Path) -> None:
    """rattler-build's ``apply_variant`` pins only plain specs: ``pin_compatible`` / ``pin_subpackage``
    are resolved from the host environment or the subpackage, so the job's requirement stays the bare
    name while a plain ``openssl`` beside it in another output is pinned."""
    text = (
        "package:\n  name: app\n  version: '1.0'\n"
        "requirements:\n"
        "  build:\n    - ${{ pin_compatible('tk') }}\n"
        "  host:\n    - python\n    - ${{ pin_compatible('openssl') }}\n    - libfoo\n"
        "  run:\n    - ${{ pin_compatible('openssl') }}\n"
        "about:\n  summary: built with openssl ${{ openssl }} and tk ${{ tk }}\n"  # keys the job uses
    )
    [pr] = _v1_tree(tmp_path, app=text)
    assert pr.ok, pr.error
    [job] = pr.variants
    [output] = job.outputs
    assert output.variant.get("openssl") == "3" and output.variant.get("tk") == "8.6 h123_0"
    assert output.requirements.host == ("python 3.12.* *_cpython", "openssl", "libfoo 1.1.1_w")
    assert output.requirements.build == ("tk",)
