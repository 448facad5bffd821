"""A commit's recipe tree read from git: the same recipes, digests and files as a checkout would give."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.git.commit_tree import CommitTree
from planner.git.digest import dir_digest
from planner.inputs.discover import discover
from tests.gitrepo import commit, git, init

META = "package:\n  name: {name}\n  version: '1.0'\n"


def _checkout(repo: Path, sha: str, dest: Path) -> Path:
    git(repo, "worktree", "add", "--detach", "-q", str(dest), sha)
    return dest


def _compare(repo: Path, sha: str, root: str, tmp: Path) -> CommitTree:
    """Assert that the commit tree finds what discover() and dir_digest() find in a real checkout."""
    tree = CommitTree(repo, sha, root, tmp / "virtual")
    checkout = _checkout(repo, sha, tmp / "checkout")
    try:
        where = checkout / root if root else checkout
        if not where.is_dir():  # nothing git would hold there (only a .git dir, say)
            assert tree.sources == ()
            return tree
        real = discover(where)
        assert [(s.rel, s.format, s.recipe_file.name) for s in real] == [
            (s.rel, s.format, s.recipe_file.name) for s in tree.sources
        ]
        assert [[c.name for c in s.local_configs] for s in real] == [
            [c.name for c in s.local_configs] for s in tree.sources
        ]
        for disk, virtual in zip(real, tree.sources, strict=True):
            known = tree.digests.get(str(virtual.path))
            if known is not None:
                assert known == dir_digest(disk.path), disk.rel
    finally:
        git(repo, "worktree", "remove", "--force", str(checkout))
    return tree


def test_layouts_nested_hidden_and_skipped_dirs(tmp_path: Path) -> None:
    repo = init(tmp_path / "repo")
    sha = commit(
        repo,
        {
            "README.md": "top\n",
            "config/cbc.yaml": "python:\n  - 3.12\n",
            "recipes/a/meta.yaml": META.format(name="a"),
            "recipes/a/build.sh": "make\n",
            "recipes/a/patches/fix.patch": "--- a\n",
            "recipes/a/__pycache__/x.pyc": "junk",
            "recipes/a/1.0/meta.yaml": META.format(name="a-old"),  # a nested recipe of its own
            "recipes/a/1.0/build.sh": "old\n",
            "recipes/b/recipe.yaml": "package:\n  name: b\n",
            "recipes/b/meta.yaml": META.format(name="b"),  # both: v1 wins, as in discover()
            "recipes/b/variants.yaml": "x: [1]\n",
            "recipes/.hidden/meta.yaml": META.format(name="hidden"),
            "recipes/c/output/meta.yaml": META.format(name="skipped-dir"),
            "recipes/c/meta.yaml": META.format(name="c"),
            "recipes/c/conda_build_config.yaml": "y: [2]\n",
        },
    )
    (repo / "recipes" / "a" / "build.sh").chmod(0o755)
    sha = commit(repo, {}, "exec bit") if git(repo, "status", "--porcelain") else sha
    tree = _compare(repo, sha, "recipes", tmp_path)
    assert [s.rel for s in tree.sources] == ["a", "a/1.0", "b", "c"]
    assert all(str(s.path) in tree.digests for s in tree.sources)
    tree = _compare(repo, sha, "", tmp_path)  # planning the repository top
    assert "recipes/a" in [s.rel for s in tree.sources]


def test_symlink_in_a_recipe_dir_has_no_commit_digest(tmp_path: Path) -> None:
    repo = init(tmp_path / "repo")
    commit(repo, {"shared/common.sh": "echo hi\n", "recipes/a/meta.yaml": META.format(name="a")})
    os.symlink("../../shared/common.sh", repo / "recipes" / "a" / "build.sh")
    sha = commit(repo, {"recipes/b/meta.yaml": META.format(name="b")})
    tree = _compare(repo, sha, "recipes", tmp_path)
    by_rel = {s.rel: s for s in tree.sources}
    assert str(by_rel["a"].path) not in tree.digests  # hashed from disk once checked out
    assert str(by_rel["b"].path) in tree.digests


def test_materialize_writes_only_what_is_asked(tmp_path: Path) -> None:
    repo = init(tmp_path / "repo")
    sha = commit(
        repo,
        {
            "stackplan.yaml": "platforms: [linux-64]\n",
            "recipes/a/meta.yaml": META.format(name="a"),
            "recipes/a/build.sh": "make\n",
            "recipes/a/2.0/meta.yaml": META.format(name="a2"),
            "recipes/b/meta.yaml": META.format(name="b"),
        },
    )
    tree = CommitTree(repo, sha, "recipes", tmp_path / "dest")
    tree.materialize_support()
    assert (tmp_path / "dest" / "stackplan.yaml").read_text() == "platforms: [linux-64]\n"
    assert not (tmp_path / "dest" / "recipes").exists()
    a = next(s for s in tree.sources if s.rel == "a")
    tree.materialize([a])
    written = sorted(p.relative_to(tmp_path / "dest").as_posix() for p in (tmp_path / "dest").rglob("*"))
    assert "recipes/a/build.sh" in written and "recipes/b/meta.yaml" not in written
    assert dir_digest(a.path) == tree.digests[str(a.path)]


_NAMES = st.sampled_from(["meta.yaml", "recipe.yaml", "build.sh", "x.patch", "conda_build_config.yaml"])
_DIRS = st.sampled_from(["p", "q", "1.0", ".git", "__pycache__", ".ci", "output", "sub"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.dictionaries(
        st.lists(_DIRS, min_size=0, max_size=3).flatmap(
            lambda dirs: _NAMES.map(lambda name: "/".join(["recipes", *dirs, name]))
        ),
        st.binary(max_size=64),
        min_size=1,
        max_size=12,
    )
)
def test_any_tree_gives_the_checkout_s_recipes_and_digests(tmp_path_factory, files: dict[str, bytes]) -> None:
    base = tmp_path_factory.mktemp("tree")
    repo = init(base / "repo")
    for rel, data in files.items():
        path = repo / rel
        if any(parent.is_file() for parent in path.parents):
            continue  # a file where a dir is wanted: not a tree git can hold
        if path.is_dir():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (repo / "keep").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tree")
    _compare(repo, git(repo, "rev-parse", "HEAD"), "recipes", base)


def test_a_change_behind_a_symlink_changes_the_recipe_s_key(tmp_path: Path) -> None:
    """A recipe dir with a symlink has no commit digest; once written out, its digest follows the
    link's target, so a change behind the link is a new key, never a stale cache hit."""
    from planner.model import RenderOptions
    from planner.plan.renders import render_keys
    from planner.render.cache import RenderCache

    repo = init(tmp_path / "repo")
    commit(repo, {"shared/build.sh": "make\n", "recipes/a/meta.yaml": META.format(name="a")})
    os.symlink("../../shared/build.sh", repo / "recipes" / "a" / "build.sh")
    first = commit(repo, {})
    second = commit(repo, {"shared/build.sh": "make install\n"})  # only the target changes

    def key_of_a(sha: str, dest: Path) -> str:
        tree = CommitTree(repo, sha, "recipes", dest)
        tree.materialize_support()
        (a,) = [s for s in tree.sources if s.rel == "a"]
        assert str(a.path) not in tree.digests
        tree.materialize([a])
        cache = RenderCache(tmp_path / "cache", version="1", known_digests=dict(tree.digests))
        return dict(render_keys(cache, tree.sources, RenderOptions()))["a"]

    assert key_of_a(first, tmp_path / "one") != key_of_a(second, tmp_path / "two")
    assert key_of_a(first, tmp_path / "three") == key_of_a(first, tmp_path / "one-again")
