"""Graph snapshots: a plan from a snapshot is byte-identical to one built from the renders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.graph.snapshot import SnapshotStore
from planner.plan.at import build_plan_at
from planner.plan.build import PlanRequest, build_plan
from tests.gitrepo import commit, git, init
from tests.recipe_files import meta_yaml, write_tree

TREE = {
    "zlib": meta_yaml("zlib", "1.3.1"),
    "libhts": meta_yaml("libhts", "1.20", host=["zlib >=1.2"], run=["zlib"]),
    "samtools": meta_yaml("samtools", "1.20", host=["libhts 1.20.*", "python"]),
    "pipeline": meta_yaml("pipeline", "2.0", run=["samtools >=1.10"], noarch="generic"),
    "cyc-a": meta_yaml("cyc-a", run=["cyc-b"]),
    "cyc-b": meta_yaml("cyc-b", host=["cyc-a"]),
    "broken": "package:\n  name: broken\n  version: [unclosed\n",
}


def write(root: Path, recipes: dict[str, str]) -> Path:
    """``recipes/<name>/meta.yaml`` for each recipe, and the variant config ``cbc.yaml``."""
    files = {f"recipes/{name}/meta.yaml": text for name, text in recipes.items()}
    return write_tree(root, {**files, "cbc.yaml": 'python:\n  - "3.11"\n  - "3.12"\n'})


def request(root: Path, cache: Path | None, **kw) -> PlanRequest:
    return PlanRequest(
        root=root,
        platforms=("linux-64", "osx-arm64"),
        variant_configs=(root / "cbc.yaml",),
        cache_dir=cache,
        jobs=1,
        **kw,
    )


def render_entries(cache: Path) -> list[Path]:
    return [p for p in cache.glob("v*/*/*") if p.is_file()]


def test_plan_from_a_snapshot_is_byte_identical_and_reads_no_render(tmp_path: Path) -> None:
    root = write(tmp_path / "tree", TREE)
    cache = tmp_path / "cache"
    uncached = build_plan(request(root, None)).to_json()
    assert build_plan(request(root, cache)).to_json() == uncached  # cold: renders, stores the graph
    assert len(list((cache / "graphs").glob("*.pickle"))) == 1
    for entry in render_entries(cache):
        entry.unlink()  # from now on a run that read a render would have to render it again...
    (root / "recipes" / "zlib" / "meta.yaml").chmod(0o000)  # ...and could not read this one
    try:
        assert build_plan(request(root, cache)).to_json() == uncached
    finally:
        (root / "recipes" / "zlib" / "meta.yaml").chmod(0o644)
    assert not render_entries(cache)
    # a selection is applied to the loaded graph like to a built one
    picked = request(root, cache, packages=("libhts",), downstream=-1)
    assert (
        build_plan(picked).to_json()
        == build_plan(request(root, None, packages=("libhts",), downstream=-1)).to_json()
    )


def test_the_same_tree_elsewhere_uses_the_snapshot_and_names_its_own_files(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_plan(request(write(tmp_path / "a", TREE), cache))
    moved = write(tmp_path / "b" / "deeper", TREE)
    for entry in render_entries(cache):
        entry.unlink()
    again = build_plan(request(moved, cache))
    assert not render_entries(cache)  # served by the snapshot
    assert again.to_json() == build_plan(request(moved, None)).to_json()
    assert [e.path for e in again.errors] == [str(moved / "recipes" / "broken" / "meta.yaml")]
    assert [e.message for e in again.errors] == [e.message for e in first.errors]


def test_a_damaged_snapshot_is_ignored_and_replaced(tmp_path: Path) -> None:
    root = write(tmp_path / "tree", TREE)
    cache = tmp_path / "cache"
    expected = build_plan(request(root, cache)).to_json()
    (snapshot,) = (cache / "graphs").glob("*.pickle")
    data = snapshot.read_bytes()
    for damaged in (data[: len(data) // 2], data[:-5] + b"xxxxx", b""):
        snapshot.write_bytes(damaged)
        assert build_plan(request(root, cache)).to_json() == expected
        assert SnapshotStore(cache).load(snapshot.stem) is not None  # written again, whole


_EDITS = st.lists(
    st.tuples(
        st.sampled_from([*sorted(TREE), "newcomer"]),
        st.sampled_from(["bump", "needs-zlib", "drop", "break", "restore"]),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_EDITS)
def test_any_sequence_of_edits_plans_the_same_with_and_without_the_caches(tmp_path_factory, edits) -> None:
    base = tmp_path_factory.mktemp("edits")
    root = write(base / "tree", TREE)
    cache = base / "cache"
    build_plan(request(root, cache))
    for name, edit in edits:
        d = root / "recipes" / name
        if edit == "drop":
            shutil.rmtree(d, ignore_errors=True)
        else:
            d.mkdir(parents=True, exist_ok=True)
            text = {
                "bump": meta_yaml(name, "9.9", host=["python"]),
                "needs-zlib": meta_yaml(name, "1.0", host=["zlib", "libhts"]),
                "break": f"package:\n  name: {name}\n  version: [\n",
                "restore": TREE.get(name, meta_yaml(name)),
            }[edit]
            (d / "meta.yaml").write_text(text)
        warm = build_plan(request(root, cache)).to_json()
        assert warm == build_plan(request(root, None)).to_json(), (name, edit)
        again = build_plan(request(root, cache)).to_json()  # now from the snapshot of this state
        assert again == warm


def test_preview_head_with_and_without_caches_is_identical(tmp_path: Path) -> None:
    repo = init(tmp_path / "repo")
    write(repo, TREE)
    commit(repo, {}, "base")
    git(repo, "checkout", "-qb", "pr")
    libhts = meta_yaml("libhts", "1.20", host=["zlib"])
    head = commit(repo, {"recipes/libhts/meta.yaml": libhts, "recipes/broken/x": "y"})
    git(repo, "checkout", "-q", "main")
    cache = tmp_path / "cache"
    ask = dict(changed="main...pr", downstream=-1)
    uncached = build_plan_at(request(repo, None, **ask), head)
    for _ in range(3):  # cold, warm (renders cached), warm (snapshot)
        plan = build_plan_at(request(repo, cache, **ask), head)
        assert plan.to_json() == uncached.to_json()
    assert [e.path for e in plan.errors] == [str(repo.resolve() / "recipes" / "broken" / "meta.yaml")]
    assert {n.recipe for n in plan.nodes} >= {"recipes/libhts", "recipes/samtools", "recipes/pipeline"}


def test_preview_head_sees_a_variant_config_changed_in_the_repository(tmp_path: Path) -> None:
    repo = init(tmp_path / "repo")
    write(repo, TREE)
    commit(repo, {}, "base")
    git(repo, "checkout", "-qb", "pr")
    head = commit(repo, {"cbc.yaml": 'python:\n  - "3.12"\n  - "3.13"\n'})
    cache = tmp_path / "cache"
    ask = dict(changed="main...pr", downstream=0)
    checked_out = build_plan(request(repo, None, **ask)).to_json()  # pr is checked out here
    git(repo, "checkout", "-q", "main")
    at_head = build_plan_at(request(repo, cache, **ask), head)
    kinds = {n.recipe: n.selected.kind for n in at_head.nodes}
    assert kinds == {"recipes/samtools": "config-change"}
    drop = ("hash", "inputs")
    assert {k: v for k, v in json.loads(at_head.to_json()).items() if k not in drop} == {
        k: v for k, v in json.loads(checked_out).items() if k not in drop
    }
