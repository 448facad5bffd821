"""planner.git.checkout: temporary and cached detached worktrees, and pruning old webhook checkouts.

Real git repositories made by the test; the user's work tree must never change.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from flows.events.dispatch import checkout
from planner.git.changes import GitError
from planner.git.checkout import cached_checkout, prune_checkouts, temporary_checkout
from tests.gitrepo import commit, git, init


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, str]:
    r = init(tmp_path / "repo")
    first = commit(r, {"recipes/a/meta.yaml": "a: 1\n"}, "first")
    second = commit(r, {"recipes/a/meta.yaml": "a: 2\n", "recipes/b/meta.yaml": "b\n"}, "second")
    git(r, "checkout", "-q", first)
    return r, first, second


def worktrees(repo: Path) -> list[str]:
    return [x for x in git(repo, "worktree", "list", "--porcelain").splitlines() if x.startswith("worktree ")]


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary dirs go under the test's tmp dir, so a leftover is visible."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def test_temporary_checkout_is_the_commit_and_is_removed(repo, tmpdir_here: Path) -> None:
    r, first, second = repo
    with temporary_checkout(r, second) as tree:
        assert (tree / "recipes/a/meta.yaml").read_text() == "a: 2\n"
        assert (tree / "recipes/b/meta.yaml").is_file()
        assert git(tree, "rev-parse", "HEAD") == second
        # the history is there: git diff works inside it
        assert git(tree, "diff", "--name-only", f"{first}..HEAD").splitlines() == [
            "recipes/a/meta.yaml",
            "recipes/b/meta.yaml",
        ]
        assert len(worktrees(r)) == 2
    assert not tree.exists() and list(tmpdir_here.iterdir()) == []
    assert worktrees(r) == [f"worktree {r.resolve()}"]
    assert git(r, "rev-parse", "HEAD") == first and git(r, "status", "--porcelain") == ""


def test_temporary_checkout_is_removed_on_error_and_unknown_revs_raise(repo, tmpdir_here: Path) -> None:
    r, _, second = repo
    with pytest.raises(RuntimeError, match="boom"), temporary_checkout(r, second) as tree:
        (tree / "scratch").write_text("dirty")  # an untracked file does not stop the removal
        raise RuntimeError("boom")
    assert list(tmpdir_here.iterdir()) == [] and worktrees(r) == [f"worktree {r.resolve()}"]
    with pytest.raises(GitError, match="nope"), temporary_checkout(r, "nope"):
        pass
    assert list(tmpdir_here.iterdir()) == [] and worktrees(r) == [f"worktree {r.resolve()}"]


def test_cached_checkout_is_reused_and_repaired(repo, tmp_path: Path) -> None:
    r, first, second = repo
    state = tmp_path / "state"
    tree = cached_checkout(r, second, state)
    assert tree == state / "checkouts" / second and git(tree, "rev-parse", "HEAD") == second
    (tree / "marker").write_text("kept")
    assert cached_checkout(r, second, state) == tree and (tree / "marker").exists()
    # a broken earlier attempt: the dir is there but is no checkout of that commit
    broken = state / "checkouts" / first
    broken.mkdir()
    (broken / "junk").write_text("x")
    fixed = cached_checkout(r, first, state)
    assert git(fixed, "rev-parse", "HEAD") == first and not (fixed / "junk").exists()


def test_prune_removes_checkouts_unused_for_longer_than_the_age(repo, tmp_path: Path) -> None:
    r, first, second = repo
    state = tmp_path / "state"
    old, new = cached_checkout(r, first, state), cached_checkout(r, second, state)
    day = 24 * 3600
    os.utime(old, (time.time() - 2 * day, time.time() - 2 * day))
    assert prune_checkouts(r, state, day, keep=(first,)) == []  # kept: it is being used
    assert prune_checkouts(r, state, day) == [old]
    assert not old.exists() and new.is_dir()
    assert worktrees(r) == [f"worktree {r.resolve()}", f"worktree {new.resolve()}"]
    assert prune_checkouts(r, tmp_path / "no-state", day) == []
    # reusing a checkout makes it young again
    os.utime(new, (time.time() - 2 * day, time.time() - 2 * day))
    cached_checkout(r, second, state)
    assert prune_checkouts(r, state, day) == []


def test_webhook_checkout_prunes_old_checkouts_of_other_commits(repo, tmp_path: Path) -> None:
    r, first, second = repo
    state = tmp_path / "state"
    old = checkout(r, first, state)
    os.utime(old, (time.time() - 10, time.time() - 10))
    tree = checkout(r, second, state, max_age=5)
    assert not old.exists() and tree.is_dir()
    assert sorted(p.name for p in (state / "checkouts").iterdir()) == [second]
