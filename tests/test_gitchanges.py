"""Changed recipes from real git repositories made by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.git.changes import (
    FileChange,
    GitError,
    changed_files,
    deleted_recipes,
    file_at,
    recipe_of,
    recipes_for_paths,
    split_range,
)
from tests.gitrepo import git
from tests.recipe_files import write_tree


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    for name in ("a", "b", "c"):
        write_tree(tmp_path, {f"recipes/{name}/meta.yaml": f"package: {{name: {name}, version: '1.0'}}\n"})
    write_tree(tmp_path, {"recipes/b/1.0/meta.yaml": "package: {name: b, version: '0.9'}\n"})
    write_tree(tmp_path, {"README.md": "hi\n"})
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "tag", "base")
    return tmp_path


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def test_changed_scripts_patches_and_nested_versions(repo: Path) -> None:
    write_tree(repo, {"recipes/a/build.sh": "make\n"})
    write_tree(repo, {"recipes/b/1.0/fix.patch": "--- x\n"})
    write_tree(repo, {"README.md": "changed\n"})
    commit(repo, "change")
    changes = changed_files(repo, "base..HEAD")
    assert changes == [
        FileChange("M", "README.md"),
        FileChange("A", "recipes/a/build.sh"),
        FileChange("A", "recipes/b/1.0/fix.patch"),
    ]
    dirs = ["recipes/a", "recipes/b", "recipes/b/1.0", "recipes/c"]
    assert recipes_for_paths([c.path for c in changes], dirs) == {
        "recipes/a": ["recipes/a/build.sh"],
        "recipes/b/1.0": ["recipes/b/1.0/fix.patch"],
    }


def test_deleted_recipe_is_reported(repo: Path) -> None:
    git(repo, "rm", "-rq", "recipes/c")
    commit(repo, "drop c")
    changes = changed_files(repo, "base..HEAD")
    assert deleted_recipes(changes, ["recipes/a", "recipes/b", "recipes/b/1.0"]) == ["recipes/c"]


def test_root_below_the_repository_top_and_merge_base_ranges(repo: Path) -> None:
    git(repo, "checkout", "-qb", "feature")
    write_tree(repo, {"recipes/b/meta.yaml": "package: {name: b, version: '1.1'}\n"})
    commit(repo, "bump b")
    git(repo, "checkout", "-q", "main")
    write_tree(repo, {"recipes/a/meta.yaml": "package: {name: a, version: '1.1'}\n"})
    commit(repo, "bump a on main")
    # BASE...HEAD: only what the branch changed since it forked
    assert [c.path for c in changed_files(repo / "recipes", "main...feature")] == ["b/meta.yaml"]
    # BASE..HEAD: the plain difference of the two trees
    assert [c.path for c in changed_files(repo / "recipes", "main..feature")] == [
        "a/meta.yaml",
        "b/meta.yaml",
    ]
    assert file_at(repo, "base", "recipes/b/meta.yaml").startswith("package: {name: b, version: '1.0'}")
    assert file_at(repo, "base", "recipes/zzz/meta.yaml") is None


def test_bad_revision_and_not_a_repository(repo: Path, tmp_path_factory) -> None:
    with pytest.raises(GitError, match="nosuchref"):
        changed_files(repo, "nosuchref..HEAD")
    elsewhere = tmp_path_factory.mktemp("plain")
    with pytest.raises(GitError):
        changed_files(elsewhere, "HEAD~1..HEAD")


def test_range_syntax() -> None:
    assert split_range("a..b") == ("a", "b", False)
    assert split_range("a...b") == ("a", "b", True)
    assert split_range("main") == ("main", "HEAD", False)
    assert recipe_of("x/y", ["."]) == "."
