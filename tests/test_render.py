"""planner.render.recipe: the one door to rendering keeps its promises (order, errors as values, progress)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.platforms import UnknownPlatformError
from planner.render.recipe import MAX_NESTING, internal_error, nesting_error, render_all, render_recipe

GOOD = 'package:\n  name: {name}\n  version: "1.0"\nrequirements:\n  run: [bash]\n'


def v1(root: Path, name: str, text: str) -> RecipeSource:
    d = root / name
    d.mkdir(parents=True)
    (d / "recipe.yaml").write_text(text)
    return RecipeSource(d, name, RecipeFormat.V1, d / "recipe.yaml")


class Recorder:
    """A real Reporter that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, label, total):
        self.events.append(("start", label, total))

    def advance(self, n=1):
        self.events.append(("advance", n))

    def finish(self):
        self.events.append(("finish",))


def test_one_render_per_platform_in_the_order_given(tmp_path):
    src = v1(tmp_path, "a", GOOD.format(name="a"))
    renders = render_recipe(src, ["osx-arm64", "linux-64", "win-64", "linux-64"], RenderOptions())
    assert [r.platform for r in renders] == ["osx-arm64", "linux-64", "win-64"]
    assert all(r.ok and r.recipe == "a" for r in renders)


def test_unknown_platform_raises_before_any_work(tmp_path):
    src = RecipeSource(tmp_path, "x", RecipeFormat.V1, tmp_path / "missing" / "recipe.yaml")
    with pytest.raises(UnknownPlatformError):
        render_recipe(src, ["linux-64", "amiga-68k"], RenderOptions())
    with pytest.raises(UnknownPlatformError):
        render_all([src], ["solaris"], RenderOptions())


def test_missing_recipe_file_is_an_error_value(tmp_path):
    src = RecipeSource(tmp_path, "gone", RecipeFormat.V1, tmp_path / "gone" / "recipe.yaml")
    [pr] = render_recipe(src, ["linux-64"], RenderOptions())
    assert pr.error is not None and "cannot read" in pr.error.message


def test_render_all_sorted_and_one_bad_recipe_never_stops_the_others(tmp_path):
    sources = [
        v1(tmp_path, "zeta", GOOD.format(name="zeta")),
        v1(tmp_path, "broken", "package:\n  name: [\n"),
        v1(tmp_path, "alpha", GOOD.format(name="alpha")),
    ]
    rec = Recorder()
    renders = render_all(sources, ["osx-64", "linux-64"], RenderOptions(), reporter=rec)
    assert [(r.recipe, r.platform) for r in renders] == [
        ("alpha", "linux-64"),
        ("alpha", "osx-64"),
        ("broken", "linux-64"),
        ("broken", "osx-64"),
        ("zeta", "linux-64"),
        ("zeta", "osx-64"),
    ]
    assert [r.ok for r in renders] == [True, True, False, False, True, True]
    assert rec.events == [("start", "render", 3), *[("advance", 1)] * 3, ("finish",)]


def test_internal_errors_are_located_at_the_recipe_file(tmp_path):
    src = RecipeSource(tmp_path, "x", RecipeFormat.V1, tmp_path / "recipe.yaml")
    err = internal_error(src, KeyError("version"))
    assert err.path == str(tmp_path / "recipe.yaml") and err.line is None
    assert err.message == "internal error: KeyError: 'version'"


@pytest.mark.parametrize(
    "payload",
    [
        "a: " + "[" * (MAX_NESTING + 5) + "]" * (MAX_NESTING + 5),
        "a: " + "{b: " * (MAX_NESTING + 5) + "1" + "}" * (MAX_NESTING + 5),
        "a:\n  " + "- " * (MAX_NESTING + 5) + "x",
    ],
)
@pytest.mark.parametrize("fmt", [RecipeFormat.V0, RecipeFormat.V1])
def test_absurd_nesting_is_refused_with_a_line_before_any_parser_sees_it(tmp_path, payload, fmt):
    d = tmp_path / "deep"
    d.mkdir()
    f = d / ("meta.yaml" if fmt is RecipeFormat.V0 else "recipe.yaml")
    f.write_text('package:\n  name: x\n  version: "1"\nextra:\n  ' + payload.replace("\n", "\n  ") + "\n")
    assert nesting_error(f) is not None
    [pr] = render_recipe(RecipeSource(d, "deep", fmt, f), ["linux-64"], RenderOptions())
    assert pr.error is not None and pr.error.line in (5, 6) and "nesting" in pr.error.message


def test_ordinary_recipes_pass_the_nesting_guard(tmp_path):
    f = tmp_path / "meta.yaml"
    f.write_text("{% set v = '1' %}\n" + "requirements:\n  run:\n" + "    - dep{{ v }}  # [linux]\n" * 2000)
    assert nesting_error(f) is None
