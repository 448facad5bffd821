"""Parallel rendering: same result as sequential, deterministic order, failures stay local, progress."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from planner.model import PlatformRender, RecipeFormat, RecipeSource, RenderOptions, Variant
from planner.render.cache import RenderCache
from planner.render.pool import default_jobs
from planner.render.pool import render_many as _render_many

PLATFORMS = ("linux-64", "osx-arm64", "noarch")

RECIPE = """\
package:
  name: {name}
  version: "1.{n}"
build:
  number: {n}
requirements:
  host:
    - zlib
  run:
    - zlib
    - if: osx
      then: libcxx
"""


def write_tree(root: Path, names: Sequence[str]) -> list[RecipeSource]:
    sources = []
    for n, name in enumerate(names):
        d = root / "recipes" / name
        d.mkdir(parents=True)
        text = "package: [unclosed\n" if name.startswith("broken") else RECIPE.format(name=name, n=n)
        (d / "recipe.yaml").write_text(text)
        sources.append(RecipeSource(d, f"recipes/{name}", RecipeFormat.V1, d / "recipe.yaml"))
    return sources


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[RecipeSource]:
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(tmp_path / "rattler"))
    names = [f"pkg{i:02d}" for i in range(10)] + ["broken-one"]
    # given in an order that is not the sorted one: the result must not depend on it
    return list(reversed(write_tree(tmp_path / "tree", names)))


def render_many(*args, **kwargs) -> list[PlatformRender]:
    """The pool with its small-work shortcut off, so these small trees really go through workers."""
    return _render_many(*args, min_pool_renders=0, **kwargs)


class Recorder:
    """A Reporter that keeps every event it gets."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, label: str, total: int | None) -> None:
        self.events.append(("start", label, total))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))

    def finish(self) -> None:
        self.events.append(("finish",))


def explode_on_pkg03(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """The real renderer, except that it raises on one recipe (a renderer bug)."""
    from planner.render.recipe import render_recipe

    if source.rel.endswith("pkg03"):
        raise RuntimeError("boom")
    return render_recipe(source, platforms, options)


def die_on_pkg05(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """The real renderer, except that the process dies on one recipe (a native crash)."""
    from planner.render.recipe import render_recipe

    if source.rel.endswith("pkg05"):
        os._exit(3)
    return render_recipe(source, platforms, options)


def test_parallel_equals_sequential_and_is_sorted(tree: list[RecipeSource]) -> None:
    sequential = render_many(tree, PLATFORMS, RenderOptions(), jobs=1)
    parallel = render_many(tree, PLATFORMS, RenderOptions(), jobs=2)
    assert parallel == sequential
    keys = [(r.recipe, r.platform) for r in parallel]
    assert keys == sorted(keys)
    assert len(parallel) == len(tree) * len(PLATFORMS)
    ok = [r for r in parallel if r.ok]
    assert {r.recipe for r in ok} == {s.rel for s in tree if "broken" not in s.rel}
    assert any(o.name == "pkg01" for r in ok for v in r.variants for o in v.outputs)
    # the broken recipe is an error value on every platform, located at its file
    broken = [r for r in parallel if r.recipe == "recipes/broken-one"]
    assert len(broken) == len(PLATFORMS)
    assert all(r.error and r.error.path.endswith("recipe.yaml") for r in broken)


def test_order_does_not_depend_on_input_order_or_jobs(tree: list[RecipeSource]) -> None:
    a = render_many(tree, PLATFORMS, RenderOptions(), jobs=2)
    b = render_many(sorted(tree, key=lambda s: s.rel), PLATFORMS, RenderOptions(), jobs=3)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_renderer_exception_becomes_error_value(tree: list[RecipeSource]) -> None:
    out = render_many(tree, PLATFORMS, RenderOptions(), jobs=2, renderer=f"{__name__}:explode_on_pkg03")
    bad = [r for r in out if r.recipe == "recipes/pkg03"]
    assert [r.platform for r in bad] == sorted(PLATFORMS)
    assert all(r.error and "RuntimeError: boom" in r.error.message for r in bad)
    assert all(r.ok for r in out if r.recipe not in ("recipes/pkg03", "recipes/broken-one"))


def test_dead_worker_is_isolated_to_its_recipe(tree: list[RecipeSource]) -> None:
    out = render_many(tree, PLATFORMS, RenderOptions(), jobs=2, renderer=f"{__name__}:die_on_pkg05")
    assert len(out) == len(tree) * len(PLATFORMS)
    dead = [r for r in out if r.recipe == "recipes/pkg05"]
    assert all(r.error and "worker process died" in r.error.message for r in dead)
    assert all(r.ok for r in out if r.recipe not in ("recipes/pkg05", "recipes/broken-one"))


def test_progress_events(tree: list[RecipeSource], tmp_path: Path) -> None:
    for jobs in (1, 2):
        rec = Recorder()
        render_many(tree, PLATFORMS, RenderOptions(), jobs=jobs, reporter=rec)
        assert rec.events[0] == ("start", "render", len(tree))
        assert rec.events[-1] == ("finish",)
        assert sum(e[1] for e in rec.events if e[0] == "advance") == len(tree)


def test_cache_warm_run_renders_nothing_edit_renders_one(tree: list[RecipeSource], tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cold_cache = RenderCache(cache_dir)
    cold = render_many(tree, PLATFORMS, RenderOptions(), jobs=2, cache=cold_cache)
    assert cold_cache.stats.hits == 0 and cold_cache.stats.misses == len(tree) * len(PLATFORMS)

    warm_cache = RenderCache(cache_dir)
    rec = Recorder()
    warm = render_many(tree, PLATFORMS, RenderOptions(), jobs=2, cache=warm_cache, reporter=rec)
    assert warm == cold
    assert warm_cache.stats.misses == 0 and warm_cache.stats.hits == len(tree) * len(PLATFORMS)
    assert sum(e[1] for e in rec.events if e[0] == "advance") == len(tree)

    edited = next(s for s in tree if s.rel == "recipes/pkg02")
    text = edited.recipe_file.read_text().replace('version: "1.2"', 'version: "9.9"')
    edited.recipe_file.write_text(text)
    again = RenderCache(cache_dir)
    out = render_many(tree, PLATFORMS, RenderOptions(), jobs=2, cache=again)
    assert again.stats.misses == len(PLATFORMS)
    versions = {o.version for r in out if r.recipe == "recipes/pkg02" for v in r.variants for o in v.outputs}
    assert versions == {"9.9"}
    # a new platform renders only that platform and keeps the others in the entry
    more = RenderCache(cache_dir)
    render_many(tree, (*PLATFORMS, "win-64"), RenderOptions(), jobs=1, cache=more)
    assert more.stats.misses == len(tree) and more.stats.hits == len(tree) * len(PLATFORMS)


def test_corrupt_cache_entry_is_re_rendered(tree: list[RecipeSource], tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    first = render_many(tree, PLATFORMS, RenderOptions(), cache=cache)
    victim = next(s for s in tree if s.rel == "recipes/pkg04")
    path = cache.entry_path(cache.key(victim, RenderOptions()))
    path.write_bytes(path.read_bytes()[:100])
    again = RenderCache(tmp_path / "cache")
    assert render_many(tree, PLATFORMS, RenderOptions(), cache=again) == first
    assert again.stats.corrupt == 1 and again.stats.misses == len(PLATFORMS)
    assert RenderCache(tmp_path / "cache").load(cache.key(victim, RenderOptions()))


def test_default_jobs_is_positive() -> None:
    assert default_jobs() >= 1


def only_in_caller(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """The real renderer, but it fails anywhere except in the process that started the test (whose pid
    comes in the render environment: the only environment a render sees)."""
    from planner.render.recipe import render_recipe

    if os.getpid() != int(options.environ["STACKPLAN_TEST_CALLER"]):
        raise RuntimeError("rendered in a worker")
    return render_recipe(source, platforms, options)


def test_small_work_renders_in_the_caller(tree: list[RecipeSource], monkeypatch: pytest.MonkeyPatch) -> None:
    options = RenderOptions(environ=Variant({"STACKPLAN_TEST_CALLER": str(os.getpid())}))
    small = _render_many(tree[:3], PLATFORMS, options, jobs=2, renderer=f"{__name__}:only_in_caller")
    assert small == render_many(tree[:3], PLATFORMS, options, jobs=1)
    # the same work forced through workers does not run in the caller
    forced = render_many(tree[:3], PLATFORMS, options, jobs=2, renderer=f"{__name__}:only_in_caller")
    assert all(r.error and "rendered in a worker" in r.error.message for r in forced)


def test_internal_errors_are_not_cached_recipe_errors_are(tree: list[RecipeSource], tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    render_many(
        tree, PLATFORMS, RenderOptions(), jobs=2, cache=cache, renderer=f"{__name__}:explode_on_pkg03"
    )
    boom = next(s for s in tree if s.rel == "recipes/pkg03")
    broken = next(s for s in tree if s.rel == "recipes/broken-one")
    assert cache.load(cache.key(boom, RenderOptions())) == {}  # retried next run
    assert set(cache.load(cache.key(broken, RenderOptions()))) == set(PLATFORMS)  # a located recipe error
    again = RenderCache(tmp_path / "cache")
    out = render_many(tree, PLATFORMS, RenderOptions(), jobs=1, cache=again)
    assert again.stats.misses == len(PLATFORMS)  # only pkg03 rendered again, now without the bug
    assert all(r.ok for r in out if r.recipe == "recipes/pkg03")
