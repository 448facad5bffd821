"""Render recipes: one :class:`RecipeSource` and some platforms in, one :class:`PlatformRender` each out.

This module is the one door to rendering. It picks the dialect's renderer (``planner.render.v0.render``
for conda-build ``meta.yaml``, ``planner.render.v1.render`` for rattler-build ``recipe.yaml``) and turns
every failure into a value: a broken recipe gives a :class:`PlatformRender` whose ``error`` says
where and why, so one bad recipe among 9,000 never stops the others. Only a wrong *platform name*
raises (:class:`~planner.platforms.UnknownPlatformError`), because that is the caller's mistake, not
the recipe's, and it is checked before any work starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from planner.model import PlatformRender, RecipeError, RecipeFormat, RecipeSource, RenderOptions
from planner.platforms import parse_platform
from planner.progress import Reporter
from planner.render.store import RenderStore

Renderer = Callable[[RecipeSource, Sequence[str], RenderOptions], "tuple[PlatformRender, ...]"]


def check_platforms(platforms: Iterable[str]) -> tuple[str, ...]:
    """The platform names as given (order kept, duplicates dropped), each one checked against the table."""
    seen: dict[str, None] = {}
    for name in platforms:
        seen[parse_platform(name).subdir] = None
    return tuple(seen)


def _renderer(fmt: RecipeFormat) -> Renderer:
    # Imported here, not at the top: each dialect pulls in heavy dependencies (py-rattler-build for
    # v1) that a caller rendering only the other dialect should not pay for.
    if fmt is RecipeFormat.V0:
        from planner.render.v0.render import render_v0

        return render_v0
    from planner.render.v1.render import render_v1

    return render_v1


def internal_error(source: RecipeSource, exc: BaseException) -> RecipeError:
    """A bug (ours or a library's) met while rendering one recipe, as a located value."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return RecipeError(source.recipe_file, None, f"internal error: {type(exc).__name__}: {message}")


#: Deeper YAML nesting than this is refused before any parser sees it: ruamel.yaml's C loader
#: crashes the whole process (a C stack overflow, not an exception) on ~100,000 levels.
MAX_NESTING = 1000
_BLOCK_NESTING = re.compile(rb"^[ \t]*(?:[-?:][ \t]+)+", re.MULTILINE)


def nesting_error(path: Path) -> RecipeError | None:
    """A located error when the file nests deeper than :data:`MAX_NESTING` (cheap for normal files)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None  # the renderer reports an unreadable file itself
    if data.count(b"[") + data.count(b"{") > MAX_NESTING:  # flow style: [[[...]]] / {a: {b: ...}}
        depth = 0
        for i, byte in enumerate(data):
            if byte in b"[{":
                depth += 1
                if depth > MAX_NESTING:
                    return _too_deep(path, data, i)
            elif byte in b"]}":
                depth = max(0, depth - 1)
    if len(data) > 2 * MAX_NESTING and max(map(len, data.splitlines())) > 2 * MAX_NESTING:
        for m in _BLOCK_NESTING.finditer(data):  # compact block style on one line: - - - - x
            if len(m.group().split()) > MAX_NESTING:
                return _too_deep(path, data, m.start())
    return None


def _too_deep(path: Path, data: bytes, offset: int) -> RecipeError:
    return RecipeError(path, data.count(b"\n", 0, offset) + 1, f"nesting deeper than {MAX_NESTING} levels")


def render_recipe(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """Render ``source`` for each platform, in the order given; never raises for a recipe problem.

    A :class:`RecipeError` raised by the renderer becomes the ``error`` of every platform rendered in
    that call; any other exception is reported as ``internal error: <type>: <message>`` at the recipe
    file (a bug to fix, but never a reason to lose the rest of a tree's render).
    """
    subdirs = check_platforms(platforms)
    if not subdirs:
        return ()
    try:
        too_deep = nesting_error(source.recipe_file)
        if too_deep is not None:
            raise too_deep
        renders = tuple(_renderer(source.format)(source, subdirs, options))
    except RecipeError as exc:
        return tuple(PlatformRender(source.rel, p, error=exc) for p in subdirs)
    except Exception as exc:  # the promise of this function: one recipe's failure stays its own
        err = internal_error(source, exc)
        return tuple(PlatformRender(source.rel, p, error=err) for p in subdirs)
    return _in_order(source, subdirs, renders)


def _in_order(
    source: RecipeSource, subdirs: tuple[str, ...], renders: tuple[PlatformRender, ...]
) -> tuple[PlatformRender, ...]:
    """Hold the renderer to its contract: exactly one render per platform asked for, in that order."""
    by_platform = {r.platform: r for r in renders}
    out = []
    for p in subdirs:
        r = by_platform.get(p)
        if r is None:
            err = RecipeError(source.recipe_file, None, f"internal error: no render returned for {p}")
            r = PlatformRender(source.rel, p, error=err)
        out.append(r)
    return tuple(out)


def render_all(
    sources: Iterable[RecipeSource],
    platforms: Sequence[str],
    options: RenderOptions,
    *,
    reporter: Reporter | None = None,
    jobs: int = 1,
    cache: RenderStore | None = None,
) -> list[PlatformRender]:
    """Render every source on every platform; the result is sorted by (recipe, platform).

    ``jobs`` > 1 renders over that many worker processes (``planner.render.pool``); ``cache`` (a
    :class:`planner.render.store.RenderStore`, e.g. ``planner.render.cache.RenderCache``) serves
    unchanged recipe dirs from disk and stores new renders.
    The result is the same for any ``jobs`` and with or without a cache.
    """
    from planner.render.pool import render_many

    return render_many(
        list(sources), check_platforms(platforms), options, jobs=jobs, cache=cache, reporter=reporter
    )
