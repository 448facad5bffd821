"""The seam between rendering and a render cache: what :func:`planner.render.recipe.render_all` and the
pool ask of one. :class:`planner.render.cache.RenderCache` is the implementation; tests and benchmarks may
pass any object of this shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from planner.model import PlatformRender, RecipeSource, RenderOptions


class RenderStore(Protocol):
    """Renders stored by content key: a recipe dir's key covers its files and the render options."""

    #: Where the entries live (pool workers open the same directory in their own process).
    directory: Path

    def key(self, source: RecipeSource, options: RenderOptions) -> str: ...

    def lookup(
        self, key: str, platforms: Sequence[str], *, root: str | None = None
    ) -> tuple[dict[str, PlatformRender], list[str]]: ...

    def get(
        self, key: str, platforms: Sequence[str], *, root: str | None = None
    ) -> tuple[PlatformRender, ...] | None: ...

    def put(
        self, key: str, renders: Iterable[PlatformRender], *, merge: bool = True, root: str | None = None
    ) -> None: ...
