"""The render cache: content keys, verified entries, atomic writes under concurrency."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.model import (
    PlatformRender,
    RecipeError,
    RecipeFormat,
    RecipeSource,
    RenderedOutput,
    RenderedRecipe,
    RenderOptions,
    Requirements,
    Variant,
)
from planner.render.cache import (
    HUGE_FILE,
    RenderCache,
    _encode,
    _verify,
    default_cache_dir,
    dir_digest,
)

PLATFORMS = ("linux-64", "osx-arm64")


def make_recipe(root: Path, name: str = "foo", body: str = "package:\n  name: foo\n") -> RecipeSource:
    d = root / "recipes" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "meta.yaml").write_text(body)
    return RecipeSource(d, f"recipes/{name}", RecipeFormat.V0, d / "meta.yaml")


def render_value(rel: str, platform: str, python: str = "3.12") -> PlatformRender:
    out = RenderedOutput(
        name="foo",
        version="1.0",
        build_number=2,
        requirements=Requirements(build=("make",), host=(f"python {python}.* *_cpython",), run=("python",)),
        test_requires=("pytest",),
        variant=Variant({"python": python}),
    )
    variant = RenderedRecipe(rel, RecipeFormat.V0, platform, Variant({"python": python}), (out,))
    return PlatformRender(rel, platform, (variant,))


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "cbc.yaml"
    p.write_text("python:\n  - 3.12\n")
    return p


def test_put_then_get_returns_equal_renders(tmp_path: Path, cfg: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    src = make_recipe(tmp_path)
    opts = RenderOptions(exclusive_configs=(cfg,))
    key = cache.key(src, opts)
    assert cache.get(key, PLATFORMS) is None
    renders = [render_value(src.rel, p) for p in PLATFORMS]
    cache.put(key, renders)
    assert cache.get(key, PLATFORMS) == tuple(renders)
    assert cache.get(key, ("osx-arm64",)) == (renders[1],)
    # a second cache object on the same dir computes the same key and sees the entry
    other = RenderCache(tmp_path / "cache")
    assert other.key(src, opts) == key
    assert other.get(key, PLATFORMS) == tuple(renders)
    assert cache.stats.hits == 3 and cache.stats.misses == 2


def test_errors_round_trip(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    src = make_recipe(tmp_path)
    key = cache.key(src, RenderOptions())
    bad = PlatformRender(src.rel, "linux-64", error=RecipeError(src.recipe_file, 3, "bad selector"))
    cache.put(key, [bad])
    assert cache.get(key, ["linux-64"]) == (bad,)


def test_lookup_reports_missing_platforms_and_put_merges(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    src = make_recipe(tmp_path)
    key = cache.key(src, RenderOptions())
    cache.put(key, [render_value(src.rel, "linux-64")])
    found, missing = cache.lookup(key, ["osx-64", "linux-64", "win-64"])
    assert list(found) == ["linux-64"] and missing == ["osx-64", "win-64"]
    cache.put(key, [render_value(src.rel, "win-64")])
    found, missing = cache.lookup(key, ["linux-64", "win-64"])
    assert sorted(found) == ["linux-64", "win-64"] and missing == []


def test_key_changes_with_every_input(tmp_path: Path, cfg: Path) -> None:
    src = make_recipe(tmp_path)
    opts = RenderOptions(exclusive_configs=(cfg,))
    cache = RenderCache(tmp_path / "cache", version="1")
    base = cache.key(src, opts)
    seen = {base}

    def changed(key: str) -> None:
        assert key not in seen
        seen.add(key)

    (src.path / "meta.yaml").write_text("package:\n  name: foo\n  # edited\n")
    changed(cache.key(src, opts))
    (src.path / "build.sh").write_text("make\n")  # a new file next to the recipe
    changed(cache.key(src, opts))
    (src.path / "build.sh").rename(src.path / "install.sh")  # same bytes, other name
    changed(cache.key(src, opts))
    (src.path / "patches").mkdir()
    (src.path / "patches" / "fix.patch").write_text("--- a\n+++ b\n")
    changed(cache.key(src, opts))
    cfg.write_text("python:\n  - 3.13\n")  # the variant config's bytes
    changed(RenderCache(tmp_path / "cache", version="1").key(src, opts))
    changed(cache.key(src, RenderOptions(variant_configs=(cfg,))))  # same file, other role
    changed(cache.key(src, RenderOptions(exclusive_configs=(cfg,), environ=Variant({"CI": "1"}))))
    changed(cache.key(src, RenderOptions(exclusive_configs=(cfg,), build_platform="linux-64")))
    changed(RenderCache(tmp_path / "cache", version="2").key(src, opts))  # another stackplan version


def test_config_change_misses_existing_entry(tmp_path: Path, cfg: Path) -> None:
    src = make_recipe(tmp_path)
    opts = RenderOptions(exclusive_configs=(cfg,))
    cache = RenderCache(tmp_path / "cache")
    cache.put(cache.key(src, opts), [render_value(src.rel, "linux-64")])
    cfg.write_text("python:\n  - 3.13\n")
    fresh = RenderCache(tmp_path / "cache")  # digests of config files are memoized per cache object
    assert fresh.get(fresh.key(src, opts), ["linux-64"]) is None


def test_default_version_is_stackplan_version_and_source_digest(tmp_path: Path) -> None:
    import planner

    cache = RenderCache(tmp_path / "cache")
    cache.key(make_recipe(tmp_path), RenderOptions())
    assert cache.version is not None and cache.version.startswith(planner.__version__ + ":")


def test_nested_recipe_dir_is_not_part_of_the_parent(tmp_path: Path) -> None:
    parent = make_recipe(tmp_path, "tool")
    before = dir_digest(parent.path)
    old = parent.path / "1.0"
    old.mkdir()
    (old / "meta.yaml").write_text("package:\n  name: tool\n  version: 1.0\n")
    assert dir_digest(parent.path) == before
    (old / "meta.yaml").write_text("package:\n  name: tool\n  version: 1.1\n")
    assert dir_digest(parent.path) == before
    assert dir_digest(old) != dir_digest(parent.path)


def test_huge_file_change_at_its_end_changes_key(tmp_path: Path) -> None:
    src = make_recipe(tmp_path)
    blob = src.path / "data.bin"
    blob.write_bytes(b"\0" * (HUGE_FILE + 10))
    before = dir_digest(src.path)
    with open(blob, "r+b") as f:
        f.seek(HUGE_FILE + 5)
        f.write(b"\1")
    assert dir_digest(src.path) != before


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data.split(b"\n", 1)[0], id="header-only"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: os.urandom(len(data)), id="garbage"),
        pytest.param(lambda data: data[:-10] + bytes([data[-10] ^ 1]) + data[-9:], id="body-edited"),
        pytest.param(lambda data: data.replace(b"foo", b"bar"), id="value-edited"),
    ],
)
def test_corrupt_entry_is_a_miss_then_rewritten(tmp_path: Path, damage) -> None:
    cache = RenderCache(tmp_path / "cache")
    src = make_recipe(tmp_path)
    key = cache.key(src, RenderOptions())
    good = render_value(src.rel, "linux-64")
    cache.put(key, [good])
    path = cache.entry_path(key)
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(key, ["linux-64"]) is None
    assert cache.stats.corrupt == 1
    cache.put(key, [good])  # the re-render overwrites it
    assert cache.get(key, ["linux-64"]) == (good,)


def test_entry_under_wrong_key_is_rejected(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    a, b = make_recipe(tmp_path, "a"), make_recipe(tmp_path, "b")
    ka, kb = cache.key(a, RenderOptions()), cache.key(b, RenderOptions())
    cache.put(ka, [render_value(a.rel, "linux-64")])
    cache.entry_path(kb).parent.mkdir(parents=True, exist_ok=True)
    cache.entry_path(kb).write_bytes(cache.entry_path(ka).read_bytes())  # a misplaced entry
    assert cache.get(kb, ["linux-64"]) is None
    assert cache.stats.corrupt == 1


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_byte_change_or_truncation_is_detected(data) -> None:
    key = "ab" * 32
    payload = {"linux-64": render_value("recipes/x", "linux-64").to_dict()}
    entry = _encode(payload, key)
    assert _verify(entry, key) == payload
    pos = data.draw(st.integers(0, len(entry) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != entry[pos]))
    flipped = entry[:pos] + bytes([new]) + entry[pos + 1 :]
    assert _verify(flipped, key) is None
    cut = data.draw(st.integers(0, len(entry) - 1))
    assert _verify(entry[:cut], key) is None


def test_unwritable_cache_dir_costs_only_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    cache = RenderCache(blocker / "cache")
    src = make_recipe(tmp_path)
    key = cache.key(src, RenderOptions())
    cache.put(key, [render_value(src.rel, "linux-64")])  # must not raise
    assert cache.get(key, ["linux-64"]) is None


def test_default_cache_dir_follows_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"STACKPLAN_CACHE_DIR": str(tmp_path / "c")}) == tmp_path / "c"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "stackplan"
    assert default_cache_dir({}) == Path.home() / ".cache" / "stackplan"


def _writer(cache_dir: str, keys: list[str], worker: int, rounds: int) -> None:
    cache = RenderCache(Path(cache_dir))
    for r in range(rounds):
        for i, key in enumerate(keys):
            platform = PLATFORMS[(i + worker + r) % len(PLATFORMS)]
            cache.put(key, [render_value(f"recipes/r{i}", platform, python=f"3.{10 + worker}")])


def test_concurrent_writers_leave_a_valid_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    keys = [f"{i:02x}" + "0" * 62 for i in range(8)] + ["ff" + f"{i:062x}" for i in range(8)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(cache_dir), keys, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = RenderCache(cache_dir)
    for i, key in enumerate(keys):
        stored = cache.load(key)
        assert stored, f"entry {key} unreadable after concurrent writes"
        for platform, d in stored.items():
            r = PlatformRender.from_dict(d)
            assert r.platform == platform and r.recipe == f"recipes/r{i}"
    assert cache.stats.corrupt == 0
    assert not list(cache_dir.rglob(".tmp-*")), "temporary files left behind"


def test_open_cache_maps_cli_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.render.cache import open_cache

    assert open_cache(tmp_path / "x", enabled=False) is None
    assert open_cache(tmp_path / "x").directory == tmp_path / "x"
    monkeypatch.setenv("STACKPLAN_CACHE_DIR", str(tmp_path / "env"))
    assert open_cache().directory == tmp_path / "env"


# -- relocation: the same tree checked out elsewhere ---------------------------------------------------------


def _tree(root: Path) -> tuple[list[RecipeSource], Path]:
    """Two v0 recipes (one broken) and a variant config inside the tree, discovered as the planner does."""
    from planner.inputs.discover import discover

    (root / "recipes" / "good").mkdir(parents=True)
    (root / "recipes" / "good" / "meta.yaml").write_text(
        "package:\n  name: good\n  version: '1.0'\nrequirements:\n  host:\n    - python\n"
    )
    (root / "recipes" / "bad").mkdir(parents=True)
    (root / "recipes" / "bad" / "meta.yaml").write_text("package:\n  name: bad\n  version: [unclosed\n")
    cfg = root / "config" / "cbc.yaml"
    cfg.parent.mkdir()
    cfg.write_text("python:\n  - 3.12\n")
    return list(discover(root)), cfg


def test_same_tree_elsewhere_hits_and_errors_name_its_own_files(tmp_path: Path) -> None:
    from planner.render.pool import render_many

    cache_dir = tmp_path / "cache"
    first_sources, first_cfg = _tree(tmp_path / "checkout-a")
    first = render_many(
        first_sources, PLATFORMS, RenderOptions(exclusive_configs=(first_cfg,)), cache=RenderCache(cache_dir)
    )
    bad = next(r for r in first if r.recipe == "recipes/bad")
    assert bad.error is not None and bad.error.path.startswith(str(tmp_path / "checkout-a") + "/")

    second_sources, second_cfg = _tree(tmp_path / "elsewhere" / "checkout-b")
    cache = RenderCache(cache_dir)
    second = render_many(
        second_sources, PLATFORMS, RenderOptions(exclusive_configs=(second_cfg,)), cache=cache
    )
    assert cache.stats.misses == 0 and cache.stats.hits == len(second_sources) * len(PLATFORMS)
    moved = next(r for r in second if r.recipe == "recipes/bad")
    assert moved.error is not None
    assert moved.error.path == bad.error.path.replace(
        str(tmp_path / "checkout-a"), str(second_sources[0].path.parents[1])
    )
    assert str(tmp_path / "checkout-a") not in str([r.to_dict() for r in second])
    # everything else is the same render
    assert [r for r in second if r.ok] == [r for r in first if r.ok]


def test_relocated_keys_still_follow_content(tmp_path: Path) -> None:
    a_sources, a_cfg = _tree(tmp_path / "a")
    b_sources, b_cfg = _tree(tmp_path / "b")
    cache = RenderCache(tmp_path / "cache", version="1")
    opts_a, opts_b = RenderOptions(exclusive_configs=(a_cfg,)), RenderOptions(exclusive_configs=(b_cfg,))
    assert [cache.key(s, opts_a) for s in a_sources] == [cache.key(s, opts_b) for s in b_sources]
    b_cfg.write_text("python:\n  - 3.13\n")  # the config inside the tree changed in one checkout only
    fresh = RenderCache(tmp_path / "cache", version="1")
    assert fresh.key(b_sources[0], opts_b) != fresh.key(a_sources[0], opts_a)
    outside = tmp_path / "outside.yaml"
    outside.write_text("python:\n  - 3.12\n")  # same bytes, but another file outside the tree
    assert fresh.key(a_sources[0], RenderOptions(exclusive_configs=(outside,))) != fresh.key(
        a_sources[0], opts_a
    )
    (b_sources[1].path / "meta.yaml").write_text("package:\n  name: good\n  version: '2.0'\n")
    assert fresh.key(b_sources[1], opts_a) != fresh.key(a_sources[1], opts_a)


@settings(max_examples=50, deadline=None)
@given(
    message=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=40),
    line=st.none() | st.integers(1, 10_000),
)
def test_root_in_any_field_is_rebased_on_read(tmp_path_factory, message: str, line: int | None) -> None:
    base = tmp_path_factory.mktemp("reloc")
    old_root, new_root = str(base / "old"), str(base / "new")
    cache = RenderCache(base / "cache", version="1")
    err = RecipeError(f"{old_root}/recipes/x/meta.yaml", line, f"{message} in {old_root}/recipes/x/y.txt")
    out = RenderedOutput("x", "1", 0, requirements=Requirements(run=(f"{old_root}/weird",)))
    good = RenderedRecipe("recipes/x", RecipeFormat.V0, "osx-arm64", Variant(), (out,))
    key = "ab" * 32
    cache.put(key, [PlatformRender("recipes/x", "linux-64", error=err)], root=old_root)
    cache.put(key, [PlatformRender("recipes/x", "osx-arm64", (good,))], root=old_root)  # merged
    assert old_root.encode() not in cache.entry_path(key).read_bytes()
    found = cache.get(key, PLATFORMS, root=new_root)
    assert found is not None
    assert found[0].error == RecipeError(
        f"{new_root}/recipes/x/meta.yaml", line, f"{message} in {new_root}/recipes/x/y.txt"
    )
    assert found[1].variants[0].outputs[0].requirements.run == (f"{new_root}/weird",)
    assert cache.get(key, PLATFORMS, root=old_root)[0].error == err
