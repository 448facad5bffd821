"""Builders for rendered recipes in tests: real input values of the planner (not mocks)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from planner.model import PlatformRender, RecipeFormat, RenderedOutput, RenderedRecipe, Requirements, Variant


def out(
    name: str,
    version: str = "1.0",
    *,
    build=(),
    host=(),
    run=(),
    test=(),
    noarch: str | None = None,
    build_number: int = 0,
    variant: Mapping[str, str] | None = None,
    test_on: str | None = None,
) -> RenderedOutput:
    return RenderedOutput(
        name=name,
        version=version,
        build_number=build_number,
        requirements=Requirements(build=tuple(build), host=tuple(host), run=tuple(run)),
        test_requires=tuple(test),
        noarch=noarch,
        variant=Variant(variant or {}),
        test_on=test_on,
    )


def recipe(
    rel: str,
    outputs: Iterable[RenderedOutput],
    platform: str = "linux-64",
    variant: Mapping[str, str] | None = None,
    *,
    skip: bool = False,
) -> RenderedRecipe:
    return RenderedRecipe(
        recipe=rel,
        format=RecipeFormat.V0,
        platform=platform,
        variant=Variant(variant or {}),
        outputs=tuple(outputs),
        skip=skip,
    )


def as_renders(recipes: Iterable[RenderedRecipe]) -> list[PlatformRender]:
    """Group rendered variants into PlatformRender values (what render_all returns)."""
    grouped: dict[tuple[str, str], list[RenderedRecipe]] = {}
    for r in recipes:
        grouped.setdefault((r.recipe, r.platform), []).append(r)
    return [PlatformRender(rec, plat, tuple(vs)) for (rec, plat), vs in sorted(grouped.items())]
