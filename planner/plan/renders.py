"""The renders a plan is made of — or, when nothing changed since a run that linked them, their graph.

:func:`plan_renders` is the render step of :func:`planner.plan.inputs.gather`. With a render cache it
first computes every recipe's render key (content digests: from disk, or from a git commit's blob ids
for :class:`planner.git.commit_tree.CommitTree`) and looks for a graph snapshot of exactly those keys
(:mod:`planner.graph.snapshot`); found, no render is read at all. Otherwise the renders come from the
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

from planner.gc_pause import gc_paused
from planner.graph.snapshot import Linked, SnapshotStore, snapshot_key
from planner.model import PlatformRender, RecipeError, RecipeSource, RenderOptions
from planner.plan.request import PlanSettings, RecipeTree
from planner.progress import Reporter
from planner.render.store import RenderStore

Saver = Callable[[Linked], None]
_MARK = "\0root\0"


def _render_from_commit(
    tree: RecipeTree,
    sources: Sequence[RecipeSource],
    platforms: Sequence[str],
    options: RenderOptions,
    cache: RenderStore | None,
    reporter: Reporter,
    jobs: int,
) -> list[PlatformRender]:
    """Renders of a commit's recipes: from the cache where it has them (keyed by the commit's blob ids,
    nothing read from disk), the rest checked out of git first and rendered as usual."""
    from planner.render.recipe import render_all

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


def render_keys(
    cache: RenderStore, sources: Sequence[RecipeSource], options: RenderOptions
) -> list[tuple[str, str]]:
    """``(rel, render key)`` of every source (content digests: the one pass over the tree's files)."""
    with gc_paused():
        return [(s.rel, cache.key(s, options)) for s in sources]


def load_snapshot(store: SnapshotStore, key: str) -> Linked | None:
    """The graph snapshot under ``key`` (a function of its own so benchmarks can time it)."""
    return store.load(key)


def _errors_swapped(linked: Linked, old: str, new: str) -> Linked:
    recipe_errors = {rel: _swap_root(errs, old, new) for rel, errs in linked.recipe_errors.items()}
    return replace(linked, errors=_swap_root(linked.errors, old, new), recipe_errors=recipe_errors)


#: A tree that differs from the last snapshot in more recipes than this (or 5 %) is linked in full.
MAX_RELINK = 64


def plan_renders(
    sources: Sequence[RecipeSource],
    platforms: Sequence[str],
    options: RenderOptions,
    *,
    root: Path,
    cache_dir: Path | None,
    settings: PlanSettings,
    reporter: Reporter,
    jobs: int,
    tree: RecipeTree | None = None,
) -> tuple[list[PlatformRender] | Linked, Saver | None]:
    """The renders of ``sources`` (or their :class:`Linked` graph: a snapshot of the same tree, or the
    last snapshot relinked where recipes changed), and a saver that stores the linked graph for the
    next run (None when there is nothing to save).
    """
    from planner.plan.request import link_settings
    from planner.render.cache import RenderCache
    from planner.render.recipe import check_platforms, render_all

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
    parts = (*link_settings(settings), *platforms)
    pairs = render_keys(cache, sources, options)
    key, family = snapshot_key(pairs, parts), snapshot_key((), parts)
    linked = load_snapshot(store, key)
    if linked is not None:
        return _errors_swapped(linked, _MARK, here), None

    def save(linked: Linked) -> None:
        store.save(key, _errors_swapped(linked, here, _MARK), forbid=here, pairs=pairs, family=family)

    def render(todo: Sequence[RecipeSource]) -> list[PlatformRender]:
        if tree is not None:
            return _render_from_commit(tree, todo, platforms, options, cache, reporter, jobs)
        return render_all(todo, platforms, options, reporter=reporter, jobs=jobs, cache=cache)

    patched = _relinked(store, family, pairs, sources, render, settings, here)
    if patched is not None:
        return patched, save
    renders = render(sources)
    if _internal_error(renders):
        return renders, None  # retried next run (see planner.render.pool), so not frozen in a snapshot
    return renders, save


def _internal_error(renders: Sequence[PlatformRender]) -> bool:
    return any(r.error is not None and r.error.message.startswith("internal error") for r in renders)


def load_base(store: SnapshotStore, family: str):
    """The last snapshot of these settings and what relinking it needs (timed by the benchmarks)."""
    found = store.load_base(family)
    if found is None:
        return None
    key, pairs, links = found
    linked = store.load(key)
    return None if linked is None else (linked, pairs, links)


def _relinked(store, family, pairs, sources, render, settings, here) -> Linked | None:
    """The last snapshot relinked where recipes changed, or None (none, too many changes, or ids that
    would move): render only the changed recipes, relink only what they touch (planner.graph.relink)."""
    from planner.graph.relink import relink

    found = load_base(store, family)
    if found is None:
        return None
    base, base_pairs, links = found
    now = dict(pairs)
    changed = {rel for rel, k in now.items() if base_pairs.get(rel) != k} | (base_pairs.keys() - now.keys())
    if len(changed) > max(MAX_RELINK, len(now) // 20):
        return None
    renders = render([s for s in sources if s.rel in changed])
    if _internal_error(renders):
        return None
    with gc_paused():
        return relink(_errors_swapped(base, _MARK, here), links, changed, renders, settings)
