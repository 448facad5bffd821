"""Render many recipe dirs over several processes, through the render cache, with progress.

Why processes: rendering is pure-Python CPU work (Jinja, selectors, YAML) plus py-rattler-build calls,
so threads would share one GIL. The unit of work sent to a worker is a *recipe* with all the platforms it
still needs, never a (recipe, platform) pair, so a worker reads and compiles a recipe's template once and
renders it per platform; several recipes travel together in one chunk to keep inter-process traffic low.

Workers start from a ``forkserver`` (a fresh interpreter that has imported the renderer once, then forks a
worker per slot): forking the caller itself is unsafe once py-rattler-build's native threads run in it,
and a spawn per worker would re-import everything each time.

The cache is consulted in the caller (hashing a recipe dir and reading its entry is far cheaper than
sending it to a worker); workers write the entries of what they render, so the caller never re-encodes
them. Results stream back as chunks finish and are sorted by ``(recipe, platform)`` at the end, so the
output does not depend on ``jobs`` or on which worker finished first.

A recipe that makes the renderer raise (a bug: renderers return errors as values) becomes a
:class:`PlatformRender` carrying a :class:`RecipeError`, and the pool goes on. If a worker process dies
(a native crash), the recipes not yet done are rendered again one at a time in a fresh worker, so the
one that kills it is found and reported as an error while every other recipe still renders.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from planner.gc_pause import gc_paused
from planner.model import PlatformRender, RecipeError, RecipeSource, RenderOptions
from planner.progress import NullReporter, Reporter
from planner.render.cache import RenderCache, source_root
from planner.render.store import RenderStore

#: ``module:function`` of the renderer used when none is given (see ``planner.render.recipe``).
DEFAULT_RENDERER = "planner.render.recipe:render_recipe"

#: Below this many recipe-platforms to render, workers cost more to start (~0.5 s: an interpreter and
#: the renderer's imports) than they save (a render takes a few ms): render in the caller instead.
MIN_POOL_RENDERS = 64

RenderFn = Callable[[RecipeSource, Sequence[str], RenderOptions], Sequence[PlatformRender]]


@dataclass(frozen=True)
class _Task:
    """One recipe and the platforms it still needs (what a worker receives)."""

    source: RecipeSource
    platforms: tuple[str, ...]
    key: str | None  # the cache key, when a cache is used


def default_jobs() -> int:
    """The number of CPUs this process may use (its affinity mask, not the machine's core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _resolve(renderer: str) -> RenderFn:
    module, _, name = renderer.partition(":")
    return getattr(importlib.import_module(module), name)


def _render_task(task: _Task, options: RenderOptions, render: RenderFn) -> list[PlatformRender]:
    """Render one recipe on its platforms; an exception from the renderer becomes an error value."""
    try:
        renders = list(render(task.source, task.platforms, options))
        if [r.platform for r in renders] != list(task.platforms):
            raise ValueError(f"renderer returned platforms {[r.platform for r in renders]}")
    except Exception as exc:
        error = RecipeError(task.source.recipe_file, None, f"internal error: {type(exc).__name__}: {exc}")
        return [PlatformRender(recipe=task.source.rel, platform=p, error=error) for p in task.platforms]
    return renders


@dataclass(frozen=True)
class _Run:
    """What every worker call of one ``render_many`` shares."""

    options: RenderOptions
    renderer: str
    cache_dir: str | None
    environ: Mapping[str, str]


def _store(cache: RenderStore | None, task: _Task, renders: Sequence[PlatformRender]) -> None:
    """Cache what a recipe rendered to, unless an internal error (a bug, or a fluke such as a file read
    mid-write) is among it: that must be retried next run, not remembered. Recipe errors are cached:
    they depend only on the recipe's content, like any render."""
    if cache is None or task.key is None:
        return
    if any(r.error is not None and r.error.message.startswith("internal error") for r in renders):
        return
    cache.put(task.key, renders, root=source_root(task.source))


def _render_chunk(tasks: Sequence[_Task], run: _Run) -> list[list[PlatformRender]]:
    """The worker side: render a chunk of recipes, store each in the cache, send the renders back.

    The worker first takes the caller's environment: a forkserver's workers inherit the environment
    of the moment the server started, and tools under the renderer (py-rattler-build's
    ``RATTLER_CACHE_DIR``, ``HOME``) must see what they would see in the caller.
    """
    if os.environ != run.environ:
        os.environ.clear()
        os.environ.update(run.environ)
    _worker_gc()
    options, render = run.options, _resolve(run.renderer)
    cache = RenderCache(Path(run.cache_dir)) if run.cache_dir is not None else None
    out = []
    for task in tasks:
        renders = _render_task(task, options, render)
        _store(cache, task, renders)
        out.append(renders)
    return out


#: Allocations between young collections in a worker (Python's default: 700).
WORKER_GC_THRESHOLD = 20_000


def _worker_gc() -> None:
    """Make the cyclic garbage collector cheaper in a render worker (once per worker process).

    A render allocates many short-lived containers (YAML nodes, Jinja's AST, dicts), so collections
    run constantly, and every older-generation one walks the worker's imported modules and caches.
    The worker's state at its first chunk is frozen out of the collector's reach, and the young
    generation collected 30x less often; reference counting still frees everything acyclic at once,
    and the few cycles (compiled templates leaving the cache) are collected later. Only in workers:
    the caller's process keeps its own settings.
    """
    if gc.get_threshold()[0] < WORKER_GC_THRESHOLD:
        gc.freeze()
        gc.set_threshold(WORKER_GC_THRESHOLD, 20, 20)


def _chunks(tasks: Sequence[_Task], jobs: int) -> list[list[_Task]]:
    """Chunks small enough to balance the load (~8 per worker) and large enough to amortize IPC."""
    size = max(1, min(32, len(tasks) // (jobs * 8)))
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def _pool(jobs: int, renderer: str) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # imported once in the server, shared by every worker it forks (missing modules are skipped)
        preload = [
            renderer.partition(":")[0], "planner.render.v0.render", "planner.render.v1.render", __name__,
        ]
        ctx.set_forkserver_preload(preload)
    else:  # pragma: no cover - Windows / some macOS builds
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)


def _render_in_pool(
    tasks: list[_Task],
    run: _Run,
    jobs: int,
    reporter: Reporter,
    collect: Callable[[list[PlatformRender]], None],
) -> list[_Task]:
    """Render ``tasks`` over ``jobs`` processes; return the tasks left undone if a worker died."""
    pending: dict[Future, list[_Task]] = {}
    with _pool(jobs, run.renderer) as pool:
        try:
            for chunk in _chunks(tasks, jobs):
                fut = pool.submit(_render_chunk, chunk, run)
                pending[fut] = chunk
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    results = fut.result()
                    pending.pop(fut)
                    for renders in results:
                        collect(renders)
                        reporter.advance(1)
        except BrokenProcessPool:
            return [t for chunk in pending.values() for t in chunk]
    return []


def _render_isolated(
    tasks: list[_Task], run: _Run, reporter: Reporter, collect: Callable[[list[PlatformRender]], None]
) -> None:
    """After a worker died: render the rest one recipe at a time in one worker, to find the culprit.

    The recipe whose render kills the worker gets an error value; the others are rendered normally.
    Never in the caller's own process: what killed a worker would kill the caller.
    """
    pool: ProcessPoolExecutor | None = None
    try:
        for task in tasks:
            pool = pool or _pool(1, run.renderer)
            try:
                renders = pool.submit(_render_chunk, [task], run)
                renders = renders.result()[0]
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                pool = None
                error = RecipeError(
                    task.source.recipe_file,
                    None,
                    "internal error: the render worker process died on this recipe",
                )
                renders = [PlatformRender(task.source.rel, p, error=error) for p in task.platforms]
            collect(renders)
            reporter.advance(1)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def render_many(
    sources: Sequence[RecipeSource],
    platforms: Sequence[str],
    options: RenderOptions,
    *,
    jobs: int = 1,
    cache: RenderStore | None = None,
    reporter: Reporter | None = None,
    renderer: str = DEFAULT_RENDERER,
    min_pool_renders: int = MIN_POOL_RENDERS,
) -> list[PlatformRender]:
    """Render every source on every platform; the result is sorted by ``(recipe, platform)``.

    ``jobs`` > 1 renders cache misses over that many processes, unless fewer than ``min_pool_renders``
    recipe-platforms are left to render (then they render in this process: starting workers would cost
    more than it saves). ``renderer`` names a function with
    ``render_recipe``'s signature as ``"module:function"`` so workers can import it.
    """
    platforms = tuple(platforms)
    reporter = reporter or NullReporter()
    results: list[PlatformRender] = []
    reporter.start("render", len(sources))  # one unit per recipe dir, as planner.render.recipe counts
    try:
        todo: list[_Task] = []
        with gc_paused():  # decoding thousands of entries: the collector would walk them for nothing
            for source in sources:
                if cache is None:
                    todo.append(_Task(source, platforms, None))
                    continue
                key = cache.key(source, options)
                found, missing = cache.lookup(key, platforms)
                results.extend(found.values())
                if missing:
                    todo.append(_Task(source, tuple(missing), key))
                else:
                    reporter.advance(1)

        work = sum(len(t.platforms) for t in todo)
        if jobs > 1 and len(todo) > 1 and work >= min_pool_renders:
            cache_dir = str(cache.directory) if cache is not None else None
            run = _Run(options, renderer, cache_dir, dict(os.environ))
            left = _render_in_pool(todo, run, jobs, reporter, results.extend)
            if left:
                _render_isolated(left, run, reporter, results.extend)
            todo = []
        if todo:
            render = _resolve(renderer)
            for task in todo:
                renders = _render_task(task, options, render)
                _store(cache, task, renders)
                results.extend(renders)
                reporter.advance(1)
    finally:
        reporter.finish()
    results.sort(key=lambda r: (r.recipe, r.platform))
    return results
