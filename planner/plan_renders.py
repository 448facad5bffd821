"""The renders a plan is made of — or, when nothing changed since a run that linked them, their graph.

:func:`plan_renders` is the render step of :func:`planner.plan_inputs.gather`. With a render cache it
first computes every recipe's render key (content digests: from disk, or from a git commit's blob ids
for :class:`planner.commit_tree.CommitTree`) and looks for a graph snapshot of exactly those keys
(:mod:`planner.graph_snapshot`); found, no render is read at all. Otherwise the renders come from the
cache or are rendered, and the caller stores the linked graph for the next run with the returned saver.

Paths: render errors name files under the discovery root, and a snapshot is keyed without it (the same
tree elsewhere hits). Errors are therefore stored relative to the root and re-based on load; a snapshot
whose graph itself names the root (a ``RECIPE_DIR`` inside a requirement, say) is not stored at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.gc_pause import gc_paused
from planner.graph_snapshot import Linked, SnapshotStore, snapshot_key
from planner.model import PlatformRender, RecipeError, RecipeSource, RenderOptions
from planner.progress import Reporter

Saver = Callable[[Linked], None]
_MARK = "\0root\0"


def _render_from_commit(tree, sources, platforms, options, cache, reporter, jobs) -> list[PlatformRender]:
    """Renders of a commit's recipes: from the cache where it has them (keyed by the commit's blob ids,
    nothing read from disk), the rest checked out of git first and rendered as usual."""
    from planner.render import render_all

    found: list[PlatformRender] = []
    todo = list(sources)
    if cache is not None:
        todo = []
        with gc_paused():
            found_all = [(s, cache.get(cache.key(s, options), platforms)) for s in sources]
        for source, hit in found_all:
            if hit is None:
                todo.append(source)
            else:
                found.extend(hit)
    tree.materialize(todo)
    rendered = render_all(todo, platforms, options, reporter=reporter, jobs=jobs, cache=cache) if todo else []
    return sorted([*found, *rendered], key=lambda r: (r.recipe, r.platform))


def _swap_root(errors: Sequence[RecipeError], old: str, new: str) -> tuple[RecipeError, ...]:
    def swap(text: str) -> str:
        return (
            new + text[len(old) :]
            if text == old or text.startswith(old + "/")
            else text.replace(old + "/", new + "/")
        )

    return tuple(RecipeError(swap(e.path), e.line, swap(e.message)) for e in errors)


def render_keys(cache: Any, sources: Sequence[RecipeSource], options: RenderOptions) -> list[tuple[str, str]]:
    """``(rel, render key)`` of every source (content digests: the one pass over the tree's files)."""
    with gc_paused():
        return [(s.rel, cache.key(s, options)) for s in sources]


def load_snapshot(store: SnapshotStore, key: str) -> Linked | None:
    """The graph snapshot under ``key`` (a function of its own so benchmarks can time it)."""
    return store.load(key)


def plan_renders(
    sources: Sequence[RecipeSource],
    platforms: Sequence[str],
    options: RenderOptions,
    *,
    root: Path,
    cache_dir: Path | None,
    link_settings: Sequence[str],
    reporter: Reporter,
    jobs: int,
    tree: Any = None,
) -> tuple[list[PlatformRender] | Linked, Saver | None]:
    """The renders of ``sources`` (or their :class:`Linked` graph from a snapshot), and a saver that
    stores the linked graph of those renders for the next run (None when there is nothing to save)."""
    from planner.render import check_platforms, render_all
    from planner.render_cache import RenderCache

    platforms = check_platforms(platforms)
    if cache_dir is None:
        if tree is not None:
            tree.materialize(sources)
        return render_all(sources, platforms, options, reporter=reporter, jobs=jobs), None
    cache = RenderCache(Path(cache_dir), remember_keys=True)
    if tree is not None:
        cache.known_digests.update(tree.digests)
        # a recipe dir the commit gives no digest of (a symlink inside) is hashed from disk: write it first
        tree.materialize([s for s in sources if str(s.path) not in tree.digests])
    here = os.path.abspath(root)
    store = SnapshotStore(cache.directory)
    key = snapshot_key(render_keys(cache, sources, options), (*link_settings, *platforms))
    linked = load_snapshot(store, key)
    if linked is not None:
        return replace(linked, errors=_swap_root(linked.errors, _MARK, here)), None
    if tree is not None:
        renders = _render_from_commit(tree, sources, platforms, options, cache, reporter, jobs)
    else:
        renders = render_all(sources, platforms, options, reporter=reporter, jobs=jobs, cache=cache)
    if any(r.error is not None and r.error.message.startswith("internal error") for r in renders):
        return renders, None  # retried next run (see planner.render_pool), so not frozen in a snapshot

    def save(linked: Linked) -> None:
        portable = Linked(_swap_root(linked.errors, here, _MARK), linked.result)
        store.save(key, portable, forbid=here)

    return renders, save
